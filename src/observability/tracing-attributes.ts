/**
 * What a decision span carries, as plain attributes (no OpenTelemetry import,
 * so this is read and tested on its own). The list is closed on purpose:
 * - route TEMPLATE (`/api/v1/{tenant}/flows/{namespace}/**`), never the
 *   request path — a path can hold a secret (Kestra webhook keys are path
 *   segments) and never the query string (OAuth codes, tokens);
 * - no header, cookie, token, body, password, e-mail, group or subject;
 * - the caller's name only when the operator opts in (`include-user`).
 */
import type { Config } from '../config/types.js';
import { kestraApiRules } from '../authz/kestra-api-rules.js';
import type { AuthRequest } from '../core/auth-request.js';
import type { Decision } from '../core/decision.js';

export type SpanAttributeValues = Record<string, string | number | boolean>;

export const ATTR = {
  door: 'kestra_authz.door',
  requestId: 'kestra_authz.request_id',
  method: 'http.request.method',
  route: 'http.route',
  statusCode: 'http.response.status_code',
  ruleId: 'kestra_authz.rule.id',
  ruleLabel: 'kestra_authz.rule.label',
  result: 'kestra_authz.result',
  reason: 'kestra_authz.reason',
  authMethod: 'kestra_authz.auth.method',
  provider: 'kestra_authz.oidc.provider',
  userName: 'user.name',
} as const;

export type DecisionResult = 'allow' | 'deny' | 'error';

/** The same split as the decisions_total metric. */
export function decisionResult(d: Decision): DecisionResult {
  return d.allow ? 'allow' : d.status >= 500 ? 'error' : 'deny';
}

/** Known when the request arrives (set at span start, so samplers and tail processors see them). */
export function requestAttributes(req: AuthRequest, door: string): SpanAttributeValues {
  const attrs: SpanAttributeValues = { [ATTR.door]: door, [ATTR.method]: req.method };
  if (req.id) attrs[ATTR.requestId] = req.id;
  return attrs;
}

/** Set when the decision is known. `routes` maps rule ids of the deciding config to their templates. */
export function decisionAttributes(
  req: AuthRequest,
  d: Decision,
  routes: RouteTemplates,
  includeUser: boolean,
): SpanAttributeValues {
  const attrs: SpanAttributeValues = {
    [ATTR.result]: decisionResult(d),
    [ATTR.reason]: d.reason,
    [ATTR.statusCode]: d.status,
  };
  if (d.ruleId) attrs[ATTR.ruleId] = d.ruleId;
  if (d.ruleLabel) attrs[ATTR.ruleLabel] = d.ruleLabel;
  const route = d.ruleId === LOGIN_FLOW_RULE ? loginFlowRoute(req.path) : routes.templates.get(d.ruleId);
  if (route) attrs[ATTR.route] = route;
  const provider = d.identity?.provider ?? (d.ruleId === LOGIN_FLOW_RULE ? loginFlowProvider(req.path, routes.providers) : undefined);
  if (provider) attrs[ATTR.provider] = provider;
  if (d.identity) {
    attrs[ATTR.authMethod] = d.identity.via;
    if (includeUser) attrs[ATTR.userName] = d.identity.name;
  }
  return attrs;
}

export interface RouteTemplates {
  /** Rule id → path template as configured ('default' → '/**'). */
  readonly templates: ReadonlyMap<string, string>;
  /** Configured OIDC provider names: the only values a login-flow span may name. */
  readonly providers: ReadonlySet<string>;
}

const cache = new WeakMap<Config, RouteTemplates>();

/** Built once per config snapshot (a reload brings a new one). */
export function routeTemplatesOf(config: Config): RouteTemplates {
  let found = cache.get(config);
  if (found) return found;
  const templates = new Map<string, string>();
  for (const rule of config.rules) templates.set(rule.id, rule.match.path);
  if (config.kestraRules) for (const rule of kestraApiRules()) if (!templates.has(rule.id)) templates.set(rule.id, rule.match.path);
  templates.set('default', '/**');
  found = { templates, providers: new Set(config.oidc.providers.map((p) => p.name)) };
  cache.set(config, found);
  return found;
}

/** The rule id the login flow's own answers carry (oidc/flow-responses.ts). */
const LOGIN_FLOW_RULE = 'login-flow';
const LOGIN_PREFIX = '/oauth/login/';
const CALLBACK_PREFIX = '/oauth/callback/';

function loginFlowRoute(path: string): string | undefined {
  if (path === '/login' || path === '/logout') return path;
  if (path.startsWith(LOGIN_PREFIX)) return `${LOGIN_PREFIX}{provider}`;
  if (path.startsWith(CALLBACK_PREFIX)) return `${CALLBACK_PREFIX}{provider}`;
  return undefined;
}

/** Only a configured provider's name: a path segment the client made up never reaches a span. */
function loginFlowProvider(path: string, providers: ReadonlySet<string>): string | undefined {
  const prefix = path.startsWith(LOGIN_PREFIX) ? LOGIN_PREFIX : path.startsWith(CALLBACK_PREFIX) ? CALLBACK_PREFIX : undefined;
  if (prefix === undefined) return undefined;
  const name = path.slice(prefix.length);
  return providers.has(name) ? name : undefined;
}
