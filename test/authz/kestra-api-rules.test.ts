import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { kestraApiRules } from '../../src/authz/kestra-api-rules.js';
import { compileRouteTable, matchRoute } from '../../src/authz/route-table.js';
import { normalizePath } from '../../src/core/auth-request.js';
import { ENDINGS, kestraRuleRequests } from '../helpers/kestra-rule-requests.js';

const table = compileRouteTable({ rules: [], kestraRules: true, default: 'authenticated' });
const A = '/api/v1/main';

// method, path, rule id, label (what it needs), tenant?, namespace? (checked when the column is present)
type Row = readonly [string, string, string, string, string?, string?];
const ANY = ' (any namespace)';
const ALL = ' (all namespaces)';
const QUERY = ' (namespaces from the query)';

const rows: Row[] = [
  // Public
  ['GET', '/ping', 'kestra:ping', 'public'],
  ['GET', '/api/v1/configs', 'kestra:configs', 'public'],
  ['GET', '/api/v1/auths', 'kestra:auths', 'public'],
  ['POST', '/api/v1/auths/login', 'kestra:auths.endpoint', 'public'],
  ['GET', '/api/v1/auths/providers', 'kestra:auths.endpoint', 'public'],
  ['GET', '/ui/main/login', 'kestra:ui.login', 'public', 'main'],
  ['GET', '/ui/main/flows/edit/company/hello', 'kestra:ui', 'public'],
  ['GET', '/ui/', 'kestra:ui', 'public'],
  ['GET', '/static/js/app.3f2a.js', 'kestra:static', 'public'],
  ['GET', '/favicon.ico', 'kestra:favicon', 'public'],
  ['POST', `${A}/executions/webhook/company.team/hello/s3cr3tkey`, 'kestra:executions.webhook', 'public', 'main', 'company.team'],
  ['GET', `${A}/executions/webhook/company.team/hello/s3cr3tkey`, 'kestra:executions.webhook', 'public', 'main', 'company.team'],
  ['PUT', `${A}/executions/webhook/company.team/hello/key/extra`, 'kestra:executions.webhook', 'public', 'main', 'company.team'],
  // Flows
  ['POST', `${A}/flows`, 'kestra:flows.create', `FLOW:CREATE${ANY}`, 'main'],
  ['GET', `${A}/flows/company.team/hello`, 'kestra:flows.read', 'FLOW:READ', 'main', 'company.team'],
  ['HEAD', `${A}/flows/company.team/hello`, 'kestra:flows.read', 'FLOW:READ', 'main', 'company.team'],
  ['GET', `${A}/flows/company.team/hello/graph`, 'kestra:flows.read', 'FLOW:READ', 'main', 'company.team'],
  ['GET', `${A}/flows/company.team/hello/revisions`, 'kestra:flows.read', 'FLOW:READ', 'main', 'company.team'],
  ['GET', `${A}/flows/company.team/hello/tasks/t1`, 'kestra:flows.read', 'FLOW:READ', 'main', 'company.team'],
  ['GET', `${A}/flows/company.team/hello/dependencies`, 'kestra:flows.read', 'FLOW:READ', 'main', 'company.team'],
  ['GET', `${A}/flows/search`, 'kestra:flows.search', `FLOW:READ${QUERY}`, 'main', undefined],
  ['GET', `${A}/flows/company.team`, 'kestra:flows.list', 'FLOW:READ', 'main', 'company.team'],
  ['PUT', `${A}/flows/company.team/hello`, 'kestra:flows.update', 'FLOW:UPDATE', 'main', 'company.team'],
  ['PATCH', `${A}/flows/company.team/hello/t1`, 'kestra:flows.update-task', 'FLOW:UPDATE', 'main', 'company.team'],
  ['DELETE', `${A}/flows/company.team/hello`, 'kestra:flows.delete', 'FLOW:DELETE', 'main', 'company.team'],
  ['POST', `${A}/flows/validate`, 'kestra:flows.validate', `FLOW:*${ANY}`, 'main'],
  ['POST', `${A}/flows/validate/task`, 'kestra:flows.validate', `FLOW:*${ANY}`, 'main'],
  ['GET', `${A}/flows/distinct-namespaces`, 'kestra:flows.distinct-namespaces', `FLOW:*${ANY}`, 'main'],
  ['GET', `${A}/flows/export/by-query`, 'kestra:flows.export', `FLOW:READ${ALL}`, 'main'],
  ['DELETE', `${A}/flows/delete/by-query`, 'kestra:flows.delete-bulk', `FLOW:DELETE${ALL}`, 'main'],
  // Namespace files
  ['GET', `${A}/namespaces/company.team/files`, 'kestra:namespace-files.read', 'FLOW:READ', 'main', 'company.team'],
  ['GET', `${A}/namespaces/company.team/files/directory`, 'kestra:namespace-files.read', 'FLOW:READ', 'main', 'company.team'],
  ['POST', `${A}/namespaces/company.team/files`, 'kestra:namespace-files.create', 'FLOW:CREATE', 'main', 'company.team'],
  ['PUT', `${A}/namespaces/company.team/files/move`, 'kestra:namespace-files.update', 'FLOW:UPDATE', 'main', 'company.team'],
  ['DELETE', `${A}/namespaces/company.team/files`, 'kestra:namespace-files.delete', 'FLOW:DELETE', 'main', 'company.team'],
  // Executions
  ['POST', `${A}/executions/company.team/hello`, 'kestra:executions.create', 'EXECUTION:CREATE', 'main', 'company.team'],
  ['POST', `${A}/executions/trigger/company.team/hello`, 'kestra:executions.trigger', 'EXECUTION:CREATE', 'main', 'company.team'],
  ['GET', `${A}/executions/search`, 'kestra:executions.search', `EXECUTION:READ${QUERY}`, 'main', undefined],
  ['GET', `${A}/executions`, 'kestra:executions.list', `EXECUTION:READ${QUERY}`, 'main', undefined],
  ['GET', `${A}/executions/6Xk2aBcD`, 'kestra:executions.read', `EXECUTION:READ${ANY}`, 'main', undefined],
  ['GET', `${A}/executions/6Xk2aBcD/graph`, 'kestra:executions.read', `EXECUTION:READ${ANY}`, 'main'],
  ['POST', `${A}/executions/6Xk2aBcD/restart`, 'kestra:executions.restart', `EXECUTION:UPDATE${ANY}`, 'main', undefined],
  ['POST', `${A}/executions/6Xk2aBcD/resume`, 'kestra:executions.resume', `EXECUTION:UPDATE${ANY}`, 'main'],
  ['POST', `${A}/executions/6Xk2aBcD/pause`, 'kestra:executions.pause', `EXECUTION:UPDATE${ANY}`, 'main'],
  ['POST', `${A}/executions/6Xk2aBcD/labels`, 'kestra:executions.labels', `EXECUTION:UPDATE${ANY}`, 'main'],
  ['DELETE', `${A}/executions/6Xk2aBcD/kill`, 'kestra:executions.kill', `EXECUTION:UPDATE${ANY}`, 'main'],
  ['DELETE', `${A}/executions/6Xk2aBcD`, 'kestra:executions.delete', `EXECUTION:DELETE${ANY}`, 'main'],
  ['DELETE', `${A}/executions/by-query`, 'kestra:executions.delete-by-query', `EXECUTION:DELETE${ALL}`, 'main'],
  ['POST', `${A}/executions/restart/by-ids`, 'kestra:executions.bulk-by-ids', `EXECUTION:UPDATE${ALL}`, 'main'],
  ['DELETE', `${A}/executions/kill/by-query`, 'kestra:executions.bulk-by-query', `EXECUTION:UPDATE${ALL}`, 'main'],
  // Logs
  ['GET', `${A}/logs/search`, 'kestra:logs.search', `EXECUTION:READ${QUERY}`, 'main'],
  ['GET', `${A}/logs/6Xk2aBcD`, 'kestra:logs.read', `EXECUTION:READ${ANY}`, 'main'],
  ['GET', `${A}/logs/6Xk2aBcD/download`, 'kestra:logs.read', `EXECUTION:READ${ANY}`, 'main'],
  // Triggers
  ['GET', `${A}/triggers/search`, 'kestra:triggers.search', `FLOW:READ${QUERY}`, 'main'],
  ['GET', `${A}/triggers/company.team/hello`, 'kestra:triggers.read', 'FLOW:READ', 'main', 'company.team'],
  // Namespaces
  ['POST', `${A}/namespaces`, 'kestra:namespaces.create', `NAMESPACE:CREATE${ANY}`, 'main'],
  ['GET', `${A}/namespaces`, 'kestra:namespaces.list', `NAMESPACE:READ${ANY}`, 'main'],
  ['GET', `${A}/namespaces/search`, 'kestra:namespaces.search', `NAMESPACE:READ${QUERY}`, 'main', undefined],
  ['GET', `${A}/namespaces/company.team`, 'kestra:namespaces.read', 'NAMESPACE:READ', 'main', 'company.team'],
  ['PUT', `${A}/namespaces/company.team`, 'kestra:namespaces.update', 'NAMESPACE:UPDATE', 'main', 'company.team'],
  ['DELETE', `${A}/namespaces/company.team`, 'kestra:namespaces.delete', 'NAMESPACE:DELETE', 'main', 'company.team'],
  // KV
  ['GET', `${A}/namespaces/company.team/kv`, 'kestra:kv.read', 'KVSTORE:READ', 'main', 'company.team'],
  ['GET', `${A}/namespaces/company.team/kv/my_key`, 'kestra:kv.read', 'KVSTORE:READ', 'main', 'company.team'],
  ['PUT', `${A}/namespaces/company.team/kv/my_key`, 'kestra:kv.write', 'KVSTORE:CREATE|UPDATE', 'main', 'company.team'],
  ['DELETE', `${A}/namespaces/company.team/kv/my_key`, 'kestra:kv.delete', 'KVSTORE:DELETE', 'main', 'company.team'],
  // Secrets
  ['GET', `${A}/namespaces/company.team/secrets`, 'kestra:secrets.read', 'SECRET:READ', 'main', 'company.team'],
  ['PUT', `${A}/namespaces/company.team/secrets`, 'kestra:secrets.update', 'SECRET:UPDATE', 'main', 'company.team'],
  ['PATCH', `${A}/namespaces/company.team/secrets/DB_PASSWORD`, 'kestra:secrets.update', 'SECRET:UPDATE', 'main', 'company.team'],
  ['DELETE', `${A}/namespaces/company.team/secrets/DB_PASSWORD`, 'kestra:secrets.delete', 'SECRET:DELETE', 'main', 'company.team'],
  // CRUD resources
  ['GET', `${A}/dashboards`, 'kestra:dashboards.read', 'DASHBOARD:READ', 'main'],
  ['POST', `${A}/dashboards`, 'kestra:dashboards.create', 'DASHBOARD:CREATE', 'main'],
  ['POST', `${A}/dashboards/d1/charts/c1`, 'kestra:dashboards.chart', 'DASHBOARD:READ', 'main'],
  ['PUT', `${A}/blueprints/custom/b1`, 'kestra:blueprints.update', 'BLUEPRINT:UPDATE', 'main'],
  ['DELETE', `${A}/apps/app1`, 'kestra:apps.delete', 'APP:DELETE', 'main'],
  ['GET', `${A}/tests/t1`, 'kestra:tests.read', `TEST:READ${ANY}`, 'main'],
  ['POST', `${A}/assets`, 'kestra:assets.create', 'ASSET:CREATE', 'main'],
  ['PATCH', `${A}/credentials/c1`, 'kestra:credentials.update', `CREDENTIAL:UPDATE${ANY}`, 'main'],
  ['GET', `${A}/auditlogs/search`, 'kestra:auditlogs.read', 'AUDITLOG:READ', 'main'],
  ['GET', `${A}/auditlogs/export`, 'kestra:auditlogs.read', 'AUDITLOG:READ', 'main'],
  // IAM
  ['GET', `${A}/roles`, 'kestra:roles.read', 'ROLE:READ', 'main'],
  ['POST', `${A}/roles`, 'kestra:roles.create', 'ROLE:CREATE', 'main'],
  ['PUT', `${A}/groups/g1`, 'kestra:groups.update', 'GROUP:UPDATE', 'main'],
  ['DELETE', `${A}/bindings/b1`, 'kestra:bindings.delete', 'BINDING:DELETE', 'main'],
  ['GET', `${A}/service-accounts`, 'kestra:service-accounts.read', 'SERVICE_ACCOUNT:READ', 'main'],
  ['POST', `${A}/invitations`, 'kestra:invitations.create', 'INVITATION:CREATE', 'main'],
  ['GET', `${A}/groups/g1/members`, 'kestra:group-members.read', 'GROUP_MEMBERSHIP:READ', 'main'],
  ['PUT', `${A}/groups/g1/members/u1`, 'kestra:group-members.update', 'GROUP_MEMBERSHIP:UPDATE', 'main'],
  ['DELETE', `${A}/groups/g1/members/u1`, 'kestra:group-members.delete', 'GROUP_MEMBERSHIP:DELETE', 'main'],
  // Other tenants are captured the same way
  ['GET', '/api/v1/acme/flows/prod/etl', 'kestra:flows.read', 'FLOW:READ', 'acme', 'prod'],
  // A tenant named like a public route does not make tenant routes public
  ['GET', '/api/v1/auths/flows/search', 'kestra:flows.search', `FLOW:READ${QUERY}`, 'auths'],
  ['PUT', '/api/v1/auths/flows/company.team/f/', 'kestra:flows.update', 'FLOW:UPDATE', 'auths', 'company.team'],
  ['DELETE', '/api/v1/auths/flows/company.team/f', 'kestra:flows.delete', 'FLOW:DELETE', 'auths', 'company.team'],
  // ... and its routes no built-in rule knows are two segments deep: never the public auths rules
  ['GET', '/api/v1/auths/stats/executions/daily', 'default', 'authenticated'],
  ['POST', '/api/v1/auths/flows/company.team/f', 'default', 'authenticated'],
  ['PUT', '/api/v1/auths/login', 'default', 'authenticated'],
  ['DELETE', '/api/v1/auths/x', 'default', 'authenticated'],
  ['GET', '/api/v1/configs/flows/company.team/f', 'kestra:flows.read', 'FLOW:READ', 'configs', 'company.team'],
  ['GET', '/api/v1/configs/', 'kestra:configs', 'public'],
  // Not in the table: the default rule
  ['GET', `${A}/me`, 'default', 'authenticated'],
  ['GET', `${A}/plugins`, 'default', 'authenticated'],
  ['POST', `${A}/flows/company.team/hello`, 'default', 'authenticated'],
  ['POST', '/api/v1/configs', 'default', 'authenticated'],
  // A trailing slash is ignored, as Kestra's router does
  ['GET', `${A}/flows/company.team/hello/`, 'kestra:flows.read', 'FLOW:READ', 'main', 'company.team'],
  ['PUT', `${A}/flows/company.team/hello/`, 'kestra:flows.update', 'FLOW:UPDATE', 'main', 'company.team'],
  ['DELETE', `${A}/flows/company.team/f/`, 'kestra:flows.delete', 'FLOW:DELETE', 'main', 'company.team'],
  ['POST', `${A}/flows/`, 'kestra:flows.create', `FLOW:CREATE${ANY}`, 'main'],
  ['DELETE', `${A}/executions/by-ids/`, 'kestra:executions.delete-by-ids', `EXECUTION:DELETE${ALL}`, 'main'],
  ['PUT', `${A}/namespaces/company.other/kv/k/`, 'kestra:kv.write', 'KVSTORE:CREATE|UPDATE', 'main', 'company.other'],
];

describe('built-in Kestra API rules', () => {
  test(`table of ${rows.length} requests`, () => {
    assert.ok(rows.length >= 40);
    for (const row of rows) {
      const [method, path, id, label, tenant, namespace] = row;
      const match = matchRoute(table, method, 'kestra.example.com', path);
      const what = `${method} ${path}`;
      assert.equal(match.rule.id, id, what);
      assert.equal(match.rule.label, label, what);
      if (tenant !== undefined) assert.equal(match.tenant, tenant, what);
      if (row.length > 5) assert.equal(match.namespace, namespace, what); // a sixth column, even undefined, is checked
      if (id !== 'default' && label !== 'public') assert.ok(match.rule.require, what);
    }
  });

  test('search, validate and execution-id routes never yield a namespace', () => {
    for (const path of [`${A}/flows/search`, `${A}/executions/search`, `${A}/executions/abc`, `${A}/namespaces/search`]) {
      assert.equal(matchRoute(table, 'GET', 'h', path).namespace, undefined, path);
    }
    assert.equal(matchRoute(table, 'POST', 'h', `${A}/flows/validate`).namespace, undefined);
    assert.equal(matchRoute(table, 'POST', 'h', `${A}/executions/abc/restart`).captures.executionId, 'abc');
  });

  test('requirements carry open resource/action names; bulk routes are marked all-namespaces', () => {
    const kv = matchRoute(table, 'PUT', 'h', `${A}/namespaces/n/kv/k`).rule.require;
    assert.deepEqual(kv, { resource: 'KVSTORE', actions: ['CREATE', 'UPDATE'] });
    const bulk = matchRoute(table, 'DELETE', 'h', `${A}/executions/by-ids`).rule.require;
    assert.deepEqual(bulk, { resource: 'EXECUTION', actions: ['DELETE'], allNamespaces: true });
  });

  test('ids are unique, readable and prefixed kestra:', () => {
    const ids = kestraApiRules().map((r) => r.id);
    assert.equal(new Set(ids).size, ids.length);
    for (const id of ids) assert.match(id, /^kestra:[a-z-]+(\.[a-z-]+)?$/);
  });

  test('the rule list is frozen and shared', () => {
    assert.ok(Object.isFrozen(kestraApiRules()));
    assert.equal(kestraApiRules(), kestraApiRules());
  });
});

describe('every built-in rule, with the endings Kestra routes like the bare path', () => {
  const requests = kestraRuleRequests();

  test(`${requests.length} requests × ${ENDINGS.length} endings: the same rule and captures as the bare path, or refused (400)`, () => {
    assert.ok(requests.length >= kestraApiRules().length);
    let refused = 0;
    for (const { method, path } of requests) {
      const bare = matchRoute(table, method, 'h', normalizePath(path)!);
      for (const ending of ENDINGS) {
        const normalized = normalizePath(path + ending);
        if (normalized === null) { refused++; continue; }
        const seen = matchRoute(table, method, 'h', normalized);
        const what = `${method} ${path}${ending}`;
        assert.equal(seen.rule.id, bare.rule.id, what);
        assert.deepEqual(seen.captures, bare.captures, what);
      }
    }
    assert.ok(refused >= requests.length * 4, 'the ;x and encoded-separator endings are refused');
  });

  test('each rule is reached by its own sample request (so the table above covers every row)', () => {
    const reached = new Set(requests.map(({ method, path }) => matchRoute(table, method, 'h', path).rule.id));
    for (const rule of kestraApiRules()) assert.ok(reached.has(rule.id), rule.id);
  });
});
