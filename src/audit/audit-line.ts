/**
 * One decision as an audit record: plain, secret-free data, serialized as
 * one JSON line. Built only for a decision the audit log writes (sampled),
 * so none of this runs on the hot path when the log is off.
 *
 * Never in a record: the query string, any header or cookie value, the
 * Authorization credential, a password, the identity's email. A path
 * segment captured as `{key}` (the Kestra webhook key is a credential) is
 * replaced by MASK.
 */
import { matchRoute, compileRouteTable, type RouteMatch, type RouteTable } from '../authz/route-table.js';
import { parsePathTemplate, type PathTemplate } from '../authz/path-template.js';
import { queryNamespaces } from '../authz/query-namespaces.js';
import type { Config } from '../config/types.js';
import type { AuthRequest } from '../core/auth-request.js';
import type { Decision } from '../core/decision.js';
import { isBrowserNavigation } from '../oidc/browser-navigation.js';

/** Written in place of a secret path segment; a valid segment, so a replayed path still matches its rule. */
export const MASK = '_masked_';
/** Captures whose value is a credential. */
const SECRET_CAPTURES: ReadonlySet<string> = new Set(['key']);
/** Kestra's webhook shape, masked even when an operator's rule (not the built-in one) matched it. */
const WEBHOOK_KEY = /^(\/api\/v1\/(?:[^/]+\/)?executions\/webhook\/[^/]+\/[^/]+\/)[^/]+/;

export interface AuditIdentity {
  readonly name: string;
  readonly subject: string;
  /** session | bearer | basic: how the caller authenticated. */
  readonly via: string;
  readonly groups: readonly string[];
  readonly issuer?: string;
  readonly provider?: string;
  /** Local users: the tenant they belong to. */
  readonly tenant?: string;
  /** Local users created with --admin. */
  readonly admin?: boolean;
}

export interface AuditRecord {
  readonly time: string;
  readonly event: 'authz.decision';
  readonly requestId: string;
  /** The door: grpc | http | cli. */
  readonly mode: string;
  readonly method: string;
  readonly host: string;
  /** Normalized path, no query string, secret segments masked. */
  readonly path: string;
  /** A browser opening a page (a denial would be a login redirect, not a 401). */
  readonly browser: boolean;
  /** The matched rule's path template. */
  readonly route?: string;
  readonly rule: string;
  readonly tenant?: string;
  readonly namespace?: string;
  /** What the rule requires, e.g. `FLOW:READ`; absent for public / authenticated rules. */
  readonly permission?: string;
  /**
   * Searches only (a rule taking its namespaces from the query): the
   * namespaces the query bounded the search to, `null` when unbounded. The
   * query string itself is never logged.
   */
  readonly searchNamespaces?: readonly string[] | null;
  readonly verdict: 'allow' | 'deny';
  readonly status: number;
  readonly reason: string;
  readonly identity?: AuditIdentity;
}

/** Route tables per config snapshot: compiled once per config the audit log sees. */
const tables = new WeakMap<Config, RouteTable>();
const templates = new Map<string, PathTemplate>();

function routeTableOf(config: Config): RouteTable {
  let table = tables.get(config);
  if (table === undefined) {
    table = compileRouteTable(config);
    tables.set(config, table);
  }
  return table;
}

function templateOf(source: string): PathTemplate {
  let template = templates.get(source);
  if (template === undefined) {
    template = parsePathTemplate(source);
    // Bounded by the rules of the configs loaded; a reload adds at most its own.
    if (templates.size < 10_000) templates.set(source, template);
  }
  return template;
}

/** The request path with every segment a `{key}`-like capture took replaced by MASK. */
export function maskedPath(path: string, match: RouteMatch | undefined): string {
  let out = path;
  if (match !== undefined && Object.keys(match.captures).some((name) => SECRET_CAPTURES.has(name))) {
    const segments = templateOf(match.rule.path).segments;
    const parts = out.split('/');
    for (let i = 0; i < segments.length && i + 1 < parts.length; i++) {
      const seg = segments[i]!;
      if (seg.kind === 'capture' && SECRET_CAPTURES.has(seg.name)) parts[i + 1] = MASK;
    }
    out = parts.join('/');
  }
  return out.replace(WEBHOOK_KEY, `$1${MASK}`);
}

function auditIdentity(decision: Decision): AuditIdentity | undefined {
  const id = decision.identity;
  if (id === undefined) return undefined;
  return {
    name: id.name,
    subject: id.subject,
    via: id.via,
    groups: id.groups,
    ...(id.issuer === undefined ? {} : { issuer: id.issuer }),
    ...(id.provider === undefined ? {} : { provider: id.provider }),
    ...(id.tenant === undefined ? {} : { tenant: id.tenant }),
    ...(id.admin ? { admin: true } : {}),
  };
}

export function auditRecord(config: Config, req: AuthRequest, decision: Decision, mode: string, now: Date): AuditRecord {
  const match = req.path.charCodeAt(0) === 47 ? matchRoute(routeTableOf(config), req.method, req.host, req.path, req.peerPrincipal) : undefined;
  // The flow endpoints (login-flow) and refused requests ('') decide without the rule the table finds.
  const rule = match !== undefined && match.rule.id === decision.ruleId ? match : undefined;
  const identity = auditIdentity(decision);
  return {
    time: now.toISOString(),
    event: 'authz.decision',
    requestId: req.id,
    mode,
    method: req.method,
    host: req.host,
    path: maskedPath(req.path, match),
    browser: isBrowserNavigation(req),
    ...(rule === undefined ? {} : { route: rule.rule.path }),
    rule: decision.ruleId,
    ...(rule?.tenant === undefined ? {} : { tenant: rule.tenant }),
    ...(rule?.namespace === undefined ? {} : { namespace: rule.namespace }),
    ...(rule?.rule.require === undefined ? {} : { permission: rule.rule.label }),
    ...(rule?.rule.require?.namespaceFrom === 'query' ? { searchNamespaces: queryNamespaces(req.query) } : {}),
    verdict: decision.allow ? 'allow' : 'deny',
    status: decision.status,
    reason: decision.reason,
    ...(identity === undefined ? {} : { identity }),
  };
}
