/**
 * The built-in rule set for Kestra's API (route → permission table of
 * Kestra's permissions reference), as plain rule data compiled by the same
 * code as the operator's rules. Checked after the operator's rules, before
 * the default rule; first match wins, so order matters:
 * - literal routes (`/flows/search`, `/executions/trigger/…`, bulk `by-ids`)
 *   come before the capture routes they would otherwise be read as (Kestra
 *   itself prefers the literal route), so `search` is never taken for a
 *   namespace;
 * - routes keyed by execution id carry no namespace: they require the
 *   permission in any namespace the caller holds it in (labelled so);
 * - bulk routes that may touch every namespace at once (`by-query`, export,
 *   import) require a grant not limited to a namespace;
 * - searches (`flows/search`, `executions/search`, `logs/search`, …) take
 *   their namespaces from the query string's namespace filters
 *   (`namespaceFrom: 'query'`): every namespace they can return must be granted;
 * - the public `/api/v1/configs` and `/api/v1/auths` routes come after the
 *   tenant routes and are no deeper than one segment below `/api/v1/auths`
 *   (`GET /api/v1/auths`, `GET|POST /api/v1/auths/<name>`): a tenant named
 *   `auths` (or `configs`) has its routes at `/api/v1/auths/<resource>/…`,
 *   two or more segments deep, so none of them is ever public. Kestra's own
 *   authentication endpoints under `/api/v1/auths` are one segment deep.
 * Anything else falls through to the `default` rule.
 */
import type { RuleConfig } from '../config/types.js';

/**
 * A rule of the built-in set; `allNamespaces` marks cross-namespace bulk
 * operations, `namespaceFrom: 'query'` searches whose namespaces come from
 * the query string's namespace filters.
 */
export interface BuiltInRule extends RuleConfig {
  readonly allNamespaces?: boolean;
}

const T = '/api/v1/{tenant}';

function publicRule(id: string, methods: readonly string[] | undefined, path: string): BuiltInRule {
  return { id: `kestra:${id}`, match: methods ? { methods, path } : { path }, allow: 'public' };
}

function needs(id: string, methods: readonly string[] | undefined, path: string, require: string, allNamespaces = false): BuiltInRule {
  const rule: BuiltInRule = { id: `kestra:${id}`, match: methods ? { methods, path } : { path }, require };
  return allNamespaces ? { ...rule, allNamespaces } : rule;
}

/** A search: allowed only when every namespace it can return is granted (the query's namespace filters bound it). */
function search(id: string, path: string, require: string): BuiltInRule {
  return { id: `kestra:${id}`, match: { methods: ['GET'], path }, require, namespaceFrom: 'query' };
}

/** One rule per verb for a plain CRUD resource: GET → READ, POST → CREATE, PUT/PATCH → UPDATE, DELETE → DELETE. */
function crud(name: string, path: string, resource: string): BuiltInRule[] {
  return [
    needs(`${name}.read`, ['GET'], path, `${resource}:READ`),
    needs(`${name}.create`, ['POST'], path, `${resource}:CREATE`),
    needs(`${name}.update`, ['PUT', 'PATCH'], path, `${resource}:UPDATE`),
    needs(`${name}.delete`, ['DELETE'], path, `${resource}:DELETE`),
  ];
}

/** POST actions on one execution; all are EXECUTION:UPDATE (kill is a DELETE, below). */
const EXECUTION_ACTIONS = ['restart', 'replay', 'resume', 'pause', 'labels', 'change-status', 'state', 'unqueue', 'force-run', 'eval'];

function buildRules(): BuiltInRule[] {
  return [
    // Public, outside the API
    publicRule('ping', undefined, '/ping'),
    publicRule('ui.login', ['GET'], '/ui/{tenant}/login'),
    publicRule('ui', ['GET'], '/ui/**'),
    publicRule('static', ['GET'], '/static/**'),
    publicRule('favicon', ['GET'], '/favicon.ico'),
    // Webhooks: the key in the path authorizes; before /executions/{executionId}/**
    publicRule('executions.webhook', undefined, `${T}/executions/webhook/{namespace}/{flowId}/{key}/**`),

    // Flows — literal routes first
    search('flows.search', `${T}/flows/search`, 'FLOW:READ'),
    needs('flows.distinct-namespaces', ['GET'], `${T}/flows/distinct-namespaces`, 'FLOW:*'),
    needs('flows.validate', ['POST'], `${T}/flows/validate/**`, 'FLOW:*'),
    needs('flows.export', ['GET', 'POST'], `${T}/flows/export/**`, 'FLOW:READ', true),
    needs('flows.import', ['POST'], `${T}/flows/import`, 'FLOW:CREATE', true),
    needs('flows.bulk', ['POST'], `${T}/flows/bulk`, 'FLOW:UPDATE', true),
    needs('flows.delete-bulk', ['DELETE'], `${T}/flows/delete/**`, 'FLOW:DELETE', true),
    needs('flows.disable-bulk', ['POST'], `${T}/flows/disable/**`, 'FLOW:UPDATE', true),
    needs('flows.enable-bulk', ['POST'], `${T}/flows/enable/**`, 'FLOW:UPDATE', true),
    needs('flows.create', ['POST'], `${T}/flows`, 'FLOW:CREATE'),
    needs('flows.list', ['GET'], `${T}/flows/{namespace}`, 'FLOW:READ'),
    needs('flows.update-namespace', ['POST'], `${T}/flows/{namespace}`, 'FLOW:UPDATE'),
    needs('flows.read', ['GET'], `${T}/flows/{namespace}/{flowId}/**`, 'FLOW:READ'),
    needs('flows.update', ['PUT'], `${T}/flows/{namespace}/{flowId}`, 'FLOW:UPDATE'),
    needs('flows.update-task', ['PATCH'], `${T}/flows/{namespace}/{flowId}/{taskId}`, 'FLOW:UPDATE'),
    needs('flows.delete', ['DELETE'], `${T}/flows/{namespace}/{flowId}`, 'FLOW:DELETE'),

    // Namespace files are flow material: FLOW permissions
    needs('namespace-files.read', ['GET'], `${T}/namespaces/{namespace}/files/**`, 'FLOW:READ'),
    needs('namespace-files.create', ['POST'], `${T}/namespaces/{namespace}/files/**`, 'FLOW:CREATE'),
    needs('namespace-files.update', ['PUT', 'PATCH'], `${T}/namespaces/{namespace}/files/**`, 'FLOW:UPDATE'),
    needs('namespace-files.delete', ['DELETE'], `${T}/namespaces/{namespace}/files/**`, 'FLOW:DELETE'),
    // KV store
    needs('kv.read', ['GET'], `${T}/namespaces/{namespace}/kv/**`, 'KVSTORE:READ'),
    needs('kv.write', ['PUT'], `${T}/namespaces/{namespace}/kv/{key}`, 'KVSTORE:CREATE|UPDATE'),
    needs('kv.delete', ['DELETE'], `${T}/namespaces/{namespace}/kv/**`, 'KVSTORE:DELETE'),
    // Secrets
    needs('secrets.read', ['GET'], `${T}/namespaces/{namespace}/secrets/**`, 'SECRET:READ'),
    needs('secrets.create', ['POST'], `${T}/namespaces/{namespace}/secrets/**`, 'SECRET:CREATE'),
    needs('secrets.update', ['PUT', 'PATCH'], `${T}/namespaces/{namespace}/secrets/**`, 'SECRET:UPDATE'),
    needs('secrets.delete', ['DELETE'], `${T}/namespaces/{namespace}/secrets/**`, 'SECRET:DELETE'),
    // Namespaces themselves
    search('namespaces.search', `${T}/namespaces/search`, 'NAMESPACE:READ'),
    needs('namespaces.list', ['GET'], `${T}/namespaces`, 'NAMESPACE:READ'),
    needs('namespaces.create', ['POST'], `${T}/namespaces`, 'NAMESPACE:CREATE'),
    needs('namespaces.read', ['GET'], `${T}/namespaces/{namespace}`, 'NAMESPACE:READ'),
    needs('namespaces.create-one', ['POST'], `${T}/namespaces/{namespace}`, 'NAMESPACE:CREATE'),
    needs('namespaces.update', ['PUT'], `${T}/namespaces/{namespace}`, 'NAMESPACE:UPDATE'),
    needs('namespaces.delete', ['DELETE'], `${T}/namespaces/{namespace}`, 'NAMESPACE:DELETE'),

    // Executions — literal routes first, then by execution id (no namespace in the path)
    search('executions.search', `${T}/executions/search`, 'EXECUTION:READ'),
    search('executions.list', `${T}/executions`, 'EXECUTION:READ'),
    needs('executions.trigger', ['POST'], `${T}/executions/trigger/{namespace}/{flowId}`, 'EXECUTION:CREATE'),
    needs('executions.delete-by-ids', ['DELETE'], `${T}/executions/by-ids`, 'EXECUTION:DELETE', true),
    needs('executions.delete-by-query', ['DELETE'], `${T}/executions/by-query`, 'EXECUTION:DELETE', true),
    needs('executions.bulk-by-ids', undefined, `${T}/executions/*/by-ids`, 'EXECUTION:UPDATE', true),
    needs('executions.bulk-by-query', undefined, `${T}/executions/*/by-query`, 'EXECUTION:UPDATE', true),
    ...EXECUTION_ACTIONS.map((action) =>
      needs(`executions.${action}`, ['POST'], `${T}/executions/{executionId}/${action}/**`, 'EXECUTION:UPDATE')),
    needs('executions.kill', ['DELETE'], `${T}/executions/{executionId}/kill`, 'EXECUTION:UPDATE'),
    needs('executions.delete', ['DELETE'], `${T}/executions/{executionId}`, 'EXECUTION:DELETE'),
    needs('executions.create', ['POST'], `${T}/executions/{namespace}/{flowId}`, 'EXECUTION:CREATE'),
    needs('executions.read', ['GET'], `${T}/executions/{executionId}/**`, 'EXECUTION:READ'),

    // Logs are execution data
    search('logs.search', `${T}/logs/search`, 'EXECUTION:READ'),
    needs('logs.read', ['GET'], `${T}/logs/{executionId}/**`, 'EXECUTION:READ'),
    needs('logs.delete', ['DELETE'], `${T}/logs/{executionId}/**`, 'EXECUTION:DELETE'),

    // Triggers
    search('triggers.search', `${T}/triggers/search`, 'FLOW:READ'),
    needs('triggers.read', ['GET'], `${T}/triggers/{namespace}/{flowId}/**`, 'FLOW:READ'),

    // Tenant-wide and other CRUD resources (chart data is fetched with POST: a read)
    needs('dashboards.chart', ['POST'], `${T}/dashboards/{dashboardId}/charts/**`, 'DASHBOARD:READ'),
    ...crud('dashboards', `${T}/dashboards/**`, 'DASHBOARD'),
    ...crud('blueprints', `${T}/blueprints/custom/**`, 'BLUEPRINT'),
    ...crud('apps', `${T}/apps/**`, 'APP'),
    ...crud('tests', `${T}/tests/**`, 'TEST'),
    ...crud('assets', `${T}/assets/**`, 'ASSET'),
    ...crud('credentials', `${T}/credentials/**`, 'CREDENTIAL'),
    needs('auditlogs.read', ['GET'], `${T}/auditlogs/**`, 'AUDITLOG:READ'),

    // IAM: group members before groups
    ...crud('group-members', `${T}/groups/{groupId}/members/**`, 'GROUP_MEMBERSHIP'),
    ...crud('roles', `${T}/roles/**`, 'ROLE'),
    ...crud('groups', `${T}/groups/**`, 'GROUP'),
    ...crud('bindings', `${T}/bindings/**`, 'BINDING'),
    ...crud('service-accounts', `${T}/service-accounts/**`, 'SERVICE_ACCOUNT'),
    ...crud('invitations', `${T}/invitations/**`, 'INVITATION'),

    // Public API routes, after every tenant route (see the header comment)
    publicRule('configs', ['GET'], '/api/v1/configs'),
    publicRule('auths', ['GET'], '/api/v1/auths'),
    publicRule('auths.endpoint', ['GET', 'POST'], '/api/v1/auths/*'),
  ];
}

let cached: readonly BuiltInRule[] | undefined;

/** The built-in Kestra API rules, in match order (built once, frozen). */
export function kestraApiRules(): readonly BuiltInRule[] {
  cached ??= Object.freeze(buildRules().map((rule) => Object.freeze({ ...rule, match: Object.freeze({ ...rule.match }) })));
  return cached;
}
