import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { checkPermission, compileAccessPolicy, describeGrants, grantsFor, type AccessPolicy, type Grants } from '../../src/authz/access-policy.js';
import { namespaceCovers } from '../../src/authz/namespaces.js';
import { parseRequirement } from '../../src/authz/requirement.js';
import { compileRouteTable, matchRoute } from '../../src/authz/route-table.js';
import type { BindingConfig, DefaultRoleConfig, RoleConfig } from '../../src/config/types.js';
import { ConfigError } from '../../src/core/errors.js';
import type { Identity } from '../../src/core/identity.js';

const roles: RoleConfig[] = [
  { name: 'developer', permissions: { FLOW: ['CREATE', 'READ', 'UPDATE', 'DELETE'], EXECUTION: ['CREATE', 'READ', 'UPDATE'], ROLE: ['READ'] } },
  { name: 'flow-reader', permissions: { FLOW: ['READ'] } },
  { name: 'flow-anything', permissions: { FLOW: ['*'] } },
  { name: 'auditor', permissions: { AUDITLOG: ['READ'] } },
  { name: 'kestra2', permissions: { FLOW: ['VIEW', 'EXECUTE'] } },
];

function policy(bindings: BindingConfig[], defaultRole?: DefaultRoleConfig): AccessPolicy {
  return compileAccessPolicy({ roles, bindings, ...(defaultRole ? { defaultRole } : {}) });
}
function who(over: Partial<Identity> = {}): Identity {
  return { via: 'bearer', subject: 'sub-123', name: 'bob', groups: [], ...over };
}
/** `tenant` null = the path names no tenant (a default parameter would turn undefined into 'main'). */
function grants(p: AccessPolicy, id: Identity, tenant: string | null = 'main'): Grants {
  const g = grantsFor(p, id, tenant ?? undefined);
  assert.notEqual(g, 'tenant_denied');
  return g as Grants;
}
const can = (g: Grants, need: string, ns?: string) => checkPermission(g, parseRequirement(need), ns).permitted;

describe('namespace coverage', () => {
  test('a binding on company.team covers itself and children only', () => {
    assert.ok(namespaceCovers('company.team', 'company.team'));
    assert.ok(namespaceCovers('company.team', 'company.team.sub'));
    assert.ok(namespaceCovers('company.team', 'company.team.sub.deeper'));
    assert.ok(!namespaceCovers('company.team', 'company.teamx'));
    assert.ok(!namespaceCovers('company.team', 'company.other'));
    assert.ok(!namespaceCovers('company.team', 'company'));
  });
});

describe('grants and permission checks', () => {
  const devs = policy([{ group: 'kestra-devs', role: 'developer', namespace: 'company.team' }]);
  const dev = grants(devs, who({ groups: ['kestra-devs'] }));

  test('FLOW:READ in company.team.sub is granted by a binding on company.team', () => {
    const check = checkPermission(dev, parseRequirement('FLOW:READ'), 'company.team.sub');
    assert.deepEqual(check, { permitted: true, grantedBy: 'role developer via group kestra-devs on company.team' });
  });

  test('…but not in company.other nor company.teamx, and the denial names what is missing', () => {
    assert.deepEqual(checkPermission(dev, parseRequirement('FLOW:READ'), 'company.other'),
      { permitted: false, missing: 'FLOW:READ in namespace company.other' });
    assert.ok(!can(dev, 'FLOW:READ', 'company.teamx'));
  });

  test('a namespaced binding never grants a tenant-wide resource', () => {
    assert.deepEqual(checkPermission(dev, parseRequirement('ROLE:READ'), undefined), { permitted: false, missing: 'ROLE:READ' });
    assert.ok(!can(dev, 'ROLE:READ', 'company.team'));
    const unrestricted = grants(policy([{ group: 'kestra-devs', role: 'developer' }]), who({ groups: ['kestra-devs'] }));
    assert.ok(can(unrestricted, 'ROLE:READ'));
  });

  test('routes without a namespace: held in any namespace suffices (executions by id)', () => {
    const table = compileRouteTable({ rules: [], kestraRules: true, default: 'deny' });
    const match = matchRoute(table, 'GET', 'h', '/api/v1/main/executions/6Xk2aBcD');
    assert.equal(match.namespace, undefined);
    assert.equal(match.rule.label, 'EXECUTION:READ (any namespace)');
    assert.deepEqual(checkPermission(dev, match.rule.require!, match.namespace),
      { permitted: true, grantedBy: 'role developer via group kestra-devs on company.team' });
    const readers = grants(policy([{ user: 'bob', role: 'flow-reader', namespace: 'x' }]), who());
    assert.deepEqual(checkPermission(readers, match.rule.require!, undefined),
      { permitted: false, missing: 'EXECUTION:READ in any namespace' });
  });

  test('cross-namespace bulk routes need a grant not limited to a namespace', () => {
    const table = compileRouteTable({ rules: [], kestraRules: true, default: 'deny' });
    const bulk = matchRoute(table, 'DELETE', 'h', '/api/v1/main/flows/delete/by-query').rule.require!;
    assert.deepEqual(checkPermission(dev, bulk, undefined), { permitted: false, missing: 'FLOW:DELETE in every namespace' });
    const everywhere = grants(policy([{ group: 'kestra-devs', role: 'developer' }]), who({ groups: ['kestra-devs'] }));
    assert.ok(checkPermission(everywhere, bulk, undefined).permitted);
  });

  test('group binding vs user binding', () => {
    const p = policy([
      { group: 'readers', role: 'flow-reader' },
      { user: 'alice@example.com', role: 'auditor' },
    ]);
    assert.ok(can(grants(p, who({ groups: ['other', 'readers'] })), 'FLOW:READ', 'any.ns'));
    assert.ok(!can(grants(p, who({ groups: ['readers'] })), 'AUDITLOG:READ'));
    assert.ok(!can(grants(p, who({ name: 'readers' })), 'FLOW:READ', 'x'), 'a user named like a group gets nothing');
    assert.ok(can(grants(p, who({ name: 'alice@example.com' })), 'AUDITLOG:READ'));
    assert.ok(!can(grants(p, who({ groups: ['alice@example.com'] })), 'AUDITLOG:READ'), 'a group named like a user gets nothing');
  });

  test('a user binding matches the identity name or its subject, exactly', () => {
    const p = policy([{ user: 'alice', role: 'auditor' }, { user: 'f1d2-sub', role: 'flow-reader' }]);
    assert.ok(can(grants(p, who({ name: 'alice' })), 'AUDITLOG:READ'));
    assert.ok(can(grants(p, who({ subject: 'f1d2-sub' })), 'FLOW:READ', 'ns'));
    assert.ok(!can(grants(p, who({ name: 'Alice' })), 'AUDITLOG:READ'));
    const both = grants(p, who({ name: 'alice', subject: 'f1d2-sub' }));
    assert.deepEqual(describeGrants(both).map((g) => g.via), ['user alice', 'user f1d2-sub']);
  });

  test('admin: built-in role (any case) and local --admin users hold every permission, even unknown ones', () => {
    const viaBinding = grants(policy([{ user: 'bob', role: 'Admin', namespace: 'prod' }, { user: 'bob', role: 'admin' }]), who());
    const local = grants(policy([]), who({ via: 'basic', admin: true }));
    for (const g of [viaBinding, local]) {
      assert.ok(can(g, 'FLOW:DELETE', 'any.where'));
      assert.ok(can(g, 'TENANT_ACCESS:UPDATE'));
      assert.ok(can(g, 'SOMETHING_NEW:FROBNICATE'));
      assert.ok(can(g, 'EXECUTION:DELETE'));
    }
    assert.deepEqual(describeGrants(local), [{ role: 'admin', via: 'local admin user', permissions: { '*': ['*'] } }]);
  });

  test('admin limited to a namespace is still limited to it', () => {
    const g = grants(policy([{ user: 'bob', role: 'admin', namespace: 'prod' }]), who());
    assert.ok(can(g, 'FLOW:DELETE', 'prod.x'));
    assert.ok(!can(g, 'FLOW:DELETE', 'dev'));
    assert.ok(!can(g, 'ROLE:READ'));
  });

  test("'*' action in a role means every action of that resource; '*' in a requirement means any held action", () => {
    const g = grants(policy([{ user: 'bob', role: 'flow-anything' }]), who());
    assert.ok(can(g, 'FLOW:DELETE', 'ns'));
    assert.ok(can(g, 'FLOW:SOME_FUTURE_ACTION', 'ns'));
    assert.ok(!can(g, 'EXECUTION:READ', 'ns'));
    const reader = grants(policy([{ user: 'bob', role: 'flow-reader' }]), who());
    assert.ok(can(reader, 'FLOW:*', 'ns'));
    assert.ok(!can(reader, 'EXECUTION:*', 'ns'));
  });

  test('Kestra 2.x style actions work as open strings', () => {
    const g = grants(policy([{ user: 'bob', role: 'kestra2', namespace: 'prod' }]), who());
    assert.ok(can(g, 'FLOW:VIEW', 'prod'));
    assert.ok(can(g, 'FLOW:EXECUTE', 'prod.etl'));
    assert.ok(!can(g, 'FLOW:READ', 'prod'));
    assert.ok(can(g, 'FLOW:READ|VIEW', 'prod'));
  });

  test('default role applies when no binding applies, unlimited by namespace', () => {
    const p = policy([{ group: 'devs', role: 'developer', namespace: 'team' }], { name: 'viewer', permissions: { FLOW: ['READ'], EXECUTION: ['READ'] } });
    const stranger = grants(p, who());
    assert.deepEqual(checkPermission(stranger, parseRequirement('FLOW:READ'), 'anything'), { permitted: true, grantedBy: 'role viewer via default role' });
    assert.ok(!can(stranger, 'FLOW:UPDATE', 'anything'));
    const member = grants(p, who({ groups: ['devs'] }));
    assert.ok(!can(member, 'FLOW:READ', 'other'), 'a binding applies, so the default role does not');
  });

  test('default role tenant-id limits it to that tenant', () => {
    const p = policy([], { name: 'viewer', tenantId: 'main', permissions: { FLOW: ['READ'] } });
    assert.ok(can(grants(p, who(), 'main'), 'FLOW:READ', 'ns'));
    assert.ok(!can(grants(p, who(), 'acme'), 'FLOW:READ', 'ns'));
    assert.ok(!can(grants(p, who(), null), 'FLOW:READ', 'ns'));
    assert.ok(can(grants(p, who({ tenant: 'main' }), null), 'FLOW:READ', 'ns'), "no tenant in the path: the user's own tenant");
  });

  test('binding tenant-id limits the binding; the default role fills in elsewhere', () => {
    const p = policy([{ user: 'bob', role: 'developer', tenantId: 'acme' }], { name: 'viewer', permissions: { AUDITLOG: ['READ'] } });
    assert.ok(can(grants(p, who(), 'acme'), 'FLOW:UPDATE', 'x'));
    assert.ok(!can(grants(p, who(), 'acme'), 'AUDITLOG:READ'));
    const inMain = grants(p, who(), 'main');
    assert.ok(!can(inMain, 'FLOW:UPDATE', 'x'));
    assert.ok(can(inMain, 'AUDITLOG:READ'));
  });

  test('a local user restricted to a tenant gets tenant_denied in another tenant', () => {
    const p = policy([{ user: 'bob', role: 'admin' }]);
    assert.equal(grantsFor(p, who({ via: 'basic', tenant: 'acme' }), 'main'), 'tenant_denied');
    assert.equal(grantsFor(p, who({ via: 'basic', tenant: 'acme', admin: true }), 'main'), 'tenant_denied');
    assert.ok(can(grants(p, who({ via: 'basic', tenant: 'acme' }), 'acme'), 'FLOW:READ', 'x'));
    assert.ok(can(grants(p, who({ via: 'basic', tenant: 'acme' }), null), 'FLOW:READ', 'x'));
  });

  test('no binding and no default role: nothing is permitted', () => {
    const g = grants(policy([{ user: 'someone-else', role: 'developer' }]), who());
    assert.deepEqual(g.grants, []);
    assert.ok(!can(g, 'FLOW:READ', 'x'));
  });

  test('a group listed twice gives one grant; grants keep config order', () => {
    const p = policy([{ group: 'b', role: 'auditor' }, { group: 'a', role: 'flow-reader', namespace: 'n' }]);
    const g = grants(p, who({ groups: ['a', 'b', 'a'] }));
    assert.deepEqual(describeGrants(g), [
      { role: 'auditor', via: 'group b', permissions: { AUDITLOG: ['READ'] } },
      { role: 'flow-reader', via: 'group a', namespace: 'n', permissions: { FLOW: ['READ'] } },
    ]);
  });
});

describe('compileAccessPolicy validation', () => {
  test('every problem is reported at once, with keys and lines', () => {
    assert.throws(() => compileAccessPolicy({
      roles: [
        { name: 'admin', permissions: { FLOW: ['READ'] } },
        { name: 'dup', permissions: {} },
        { name: 'dup', permissions: {} },
        { name: 'bad', permissions: { 'FLOW READ': ['x'] } },
      ],
      bindings: [
        { user: 'a', group: 'b', role: 'dup', line: 20 },
        { user: 'a', role: 'nope', line: 21 },
        { group: 'g', role: 'dup', namespace: 'bad..ns', line: 22 },
      ],
      defaultRole: { name: 'viewer', permissions: { FLOW: 'READ' as unknown as string[] } },
    }), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.deepEqual(err.problems.map((p) => [p.key, p.line]), [
        ['authz.roles[0].name', undefined],
        ['authz.roles[2].name', undefined],
        ['authz.roles[3].permissions', undefined],
        ['authz.bindings[0]', 20],
        ['authz.bindings[1].role', 21],
        ['authz.bindings[2].namespace', 22],
        ['kestra.security.default-role.permissions', undefined],
      ]);
      return true;
    });
  });

  test('permission names are upper-cased as Kestra writes them', () => {
    const p = compileAccessPolicy({ roles: [{ name: 'r', permissions: { flow: ['read'] } }], bindings: [{ user: 'bob', role: 'r' }] });
    assert.ok(can(grants(p, who()), 'FLOW:READ', 'x'));
  });
});

describe('service bindings (mTLS workloads)', () => {
  const CI = 'spiffe://cluster.local/ns/ci/sa/ci-runner';
  const service = (name: string): Identity => ({ via: 'mtls', subject: name, name, groups: [] });
  const p = policy([
    { service: 'spiffe://cluster.local/ns/ci/sa/*', role: 'flow-reader', namespace: 'company.team' },
    { service: CI, role: 'developer', namespace: 'company.ci', tenantId: 'acme' },
    // A user binding spelled like a SPIFFE id: never a workload's.
    { user: 'spiffe://cluster.local/ns/ci/sa/other', role: 'developer' },
  ], { name: 'viewer', permissions: { FLOW: ['READ'] } });

  test('a workload holds what its service bindings grant, by pattern and tenant', () => {
    const g = grants(p, service(CI));
    assert.ok(can(g, 'FLOW:READ', 'company.team'));
    assert.ok(!can(g, 'FLOW:READ', 'company.ci'), 'the acme-only binding does not apply in main');
    assert.ok(can(grants(p, service(CI), 'acme'), 'FLOW:DELETE', 'company.ci'));
    assert.deepEqual(describeGrants(g).map((d) => d.via), ['service spiffe://cluster.local/ns/ci/sa/*']);
  });

  test('no default role and no user binding for a workload; no service binding for a user', () => {
    assert.deepEqual(grants(p, service('spiffe://cluster.local/ns/other/sa/x')).grants, [], 'no default role for a service');
    assert.deepEqual(describeGrants(grants(p, service('spiffe://cluster.local/ns/ci/sa/other'))).map((d) => d.role), ['flow-reader'],
      'only its service binding, not the user binding of the same name');
    const user = who({ name: CI, subject: CI });
    assert.deepEqual(describeGrants(grants(p, user)).map((d) => d.via), ['default role'], 'a user named like a workload gets no service binding');
  });

  test('a binding naming two kinds of subject, or a bad pattern, is refused', () => {
    assert.throws(() => policy([{ service: CI, group: 'g', role: 'developer' }]), /exactly one of `user`, `group` or `service`/);
    assert.throws(() => policy([{ service: 'spiffe://cluster.local/ns/ci-*', role: 'developer' }]), /whole segment/);
  });

  test('a rule with principals matches only the peers it names', () => {
    const table = compileRouteTable({
      rules: [
        { id: 'push', match: { path: '/push', principals: ['spiffe://cluster.local/ns/monitoring/sa/*'] }, allow: 'public' },
        { id: 'closed', match: { path: '/push' }, allow: 'deny' },
      ],
      kestraRules: false,
      default: 'deny',
    });
    assert.equal(matchRoute(table, 'POST', 'h', '/push', 'spiffe://cluster.local/ns/monitoring/sa/prom').rule.id, 'push');
    assert.equal(matchRoute(table, 'POST', 'h', '/push', 'spiffe://cluster.local/ns/other/sa/prom').rule.id, 'closed');
    assert.equal(matchRoute(table, 'POST', 'h', '/push').rule.id, 'closed');
    assert.deepEqual(table.principalPatterns.map((x) => x.source), ['spiffe://cluster.local/ns/monitoring/sa/*']);
  });
});
