/**
 * decide(): the pure decision core. route → (flow) → authenticate →
 * authorize → respond. Imports no transport; everything from the outside
 * (authenticators with their stores and JWKS caches, the login hook) is
 * passed in when the engine is built from one config snapshot.
 */
import type { Authenticator, AuthnResult } from '../authn/authenticator.js';
import { MtlsAuthenticator } from '../authn/mtls-authenticator.js';
import { checkPermission, checkQueryNamespaces, compileAccessPolicy, describeGrants, grantsFor, type AccessPolicy } from '../authz/access-policy.js';
import { queryNamespaces } from '../authz/query-namespaces.js';
import { compileRouteTable, matchRoute, type RouteMatch, type RouteTable } from '../authz/route-table.js';
import type { Config } from '../config/types.js';
import type { AuthRequest } from './auth-request.js';
import type { Decision } from './decision.js';
import { compileHeaderPolicy } from './header-policy.js';
import type { Identity } from './identity.js';
import { allow, AllowPartsMemo, deny, type RespondContext } from './respond.js';
import type { IdentityTokens } from '../identity/identity-tokens.js';

/** Optional step recorder for `explain`; undefined on the request path, so it costs nothing. */
export type Trace = (stage: 'route' | 'flow' | 'authenticate' | 'authorize' | 'respond', detail: string) => void;

/**
 * A stage that may answer before authentication (the OIDC endpoints):
 * undefined at once for a path it does not own — every request passes here,
 * so a promise only for its own paths.
 */
export type FlowStage = (req: AuthRequest) => Decision | undefined | Promise<Decision | undefined>;

export interface Engine {
  readonly config: Config;
  /** A plain Decision when every stage could answer at once (a cached token), else a promise. */
  decide(req: AuthRequest, trace?: Trace): Decision | Promise<Decision>;
}

export interface EngineParts {
  /** In chain order: session → bearer → basic (the engine appends mtls, last: a user credential decides first). */
  readonly authenticators: readonly Authenticator[];
  /** authz.identity-token when enabled and serving (build-engine.ts): the token set on allows with a caller. */
  readonly identityTokens?: IdentityTokens;
  readonly flow?: FlowStage;
  readonly loginRedirect?: RespondContext['loginRedirect'];
}

interface CompiledPolicy {
  readonly routes: RouteTable;
  readonly access: AccessPolicy;
  readonly respond: RespondContext;
}

export function createEngine(config: Config, parts: EngineParts): Engine {
  const policy: CompiledPolicy = Object.freeze({
    routes: compileRouteTable(config),
    access: compileAccessPolicy(config),
    respond: Object.freeze({
      headers: compileHeaderPolicy(config),
      realm: 'kestra-authz',
      basicEnabled: config.basicAuth.enabled,
      loginRedirect: parts.loginRedirect ?? null,
      allowParts: new AllowPartsMemo(),
      identityTokens: parts.identityTokens ?? null,
      identityTokenHeader: config.identityToken?.header,
    }),
  });
  // Last in the chain: see mtls-authenticator.ts for why a user credential wins over the peer's principal.
  const authenticators = [...parts.authenticators, new MtlsAuthenticator(policy.access, policy.routes.principalPatterns)];
  const flow = parts.flow ?? null;
  return Object.freeze({
    config,
    decide: (req: AuthRequest, trace?: Trace) => decide(policy, authenticators, flow, req, trace),
  });
}

type Authenticated =
  | { readonly identity: Identity; readonly responseHeaders?: ReadonlyArray<readonly [string, string]>; readonly repeated?: boolean }
  | { readonly failure: Decision }
  | undefined;

type RuleRef = { id: string; label: string };

/** The chain's verdict on one authenticator's result; SKIPPED = ask the next one. */
const SKIPPED = Symbol('skipped');

function judge(
  policy: CompiledPolicy,
  authenticator: Authenticator,
  result: AuthnResult,
  req: AuthRequest,
  rule: RuleRef,
  trace: Trace | undefined,
): Authenticated | typeof SKIPPED {
  if (result.kind === 'skip') {
    trace?.('authenticate', authenticator.name === 'mtls' && req.peerPrincipal !== ''
      ? `mtls: peer ${req.peerPrincipal} is named by no service binding or rule principals: not authenticated by it`
      : `${authenticator.name}: no credential of this kind`);
    return SKIPPED;
  }
  if (result.kind === 'fail') {
    trace?.('authenticate', `${authenticator.name}: ${result.reason} (${result.description})`);
    return { failure: deny(policy.respond, req, rule, result.reason, result.description) };
  }
  trace?.('authenticate', `${authenticator.name}: ${result.identity.name} (sub ${result.identity.subject})`);
  return result;
}

/**
 * First authenticator that applies, from `from` on. Synchronous as long as
 * every authenticator answers at once; from the first one that returns a
 * promise, the rest of the chain continues in it.
 */
function authenticate(
  policy: CompiledPolicy,
  authenticators: readonly Authenticator[],
  req: AuthRequest,
  rule: RuleRef,
  trace: Trace | undefined,
  from = 0,
): Authenticated | Promise<Authenticated> {
  for (let i = from; i < authenticators.length; i++) {
    const authenticator = authenticators[i]!;
    const result = authenticator.authenticate(req);
    if (result instanceof Promise) {
      return result.then((settled) => {
        const verdict = judge(policy, authenticator, settled, req, rule, trace);
        return verdict === SKIPPED ? authenticate(policy, authenticators, req, rule, trace, i + 1) : verdict;
      });
    }
    const verdict = judge(policy, authenticator, result, req, rule, trace);
    if (verdict !== SKIPPED) return verdict;
  }
  trace?.('authenticate', 'anonymous: no credentials');
  return undefined;
}

function decide(
  policy: CompiledPolicy,
  authenticators: readonly Authenticator[],
  flow: FlowStage | null,
  req: AuthRequest,
  trace: Trace | undefined,
): Decision | Promise<Decision> {
  // 1. route
  const match = matchRoute(policy.routes, req.method, req.host, req.path, req.peerPrincipal);
  const rule = match.rule;
  if (trace && req.peerPrincipal !== '') trace('route', `mTLS peer principal ${req.peerPrincipal}`);
  trace?.('route', `${req.method} ${req.path} matched ${rule.id} (${rule.label})` +
    (rule.principals ? ` for peers ${rule.principals.join(', ')}` : '') +
    (match.tenant ? `, tenant ${match.tenant}` : '') + (match.namespace ? `, namespace ${match.namespace}` : ''));

  // 2. flow: OIDC endpoints answer here, before any credential is looked at
  const answered = flow === null ? undefined : flow(req);
  if (answered instanceof Promise) {
    return answered.then((settled) => (settled ? answeredByFlow(settled, trace) : afterFlow(policy, authenticators, req, match, trace)));
  }
  return answered ? answeredByFlow(answered, trace) : afterFlow(policy, authenticators, req, match, trace);
}

function answeredByFlow(answered: Decision, trace: Trace | undefined): Decision {
  trace?.('flow', `answered by the login flow (${answered.reason})`);
  return answered;
}

function afterFlow(
  policy: CompiledPolicy,
  authenticators: readonly Authenticator[],
  req: AuthRequest,
  match: RouteMatch,
  trace: Trace | undefined,
): Decision | Promise<Decision> {
  const rule = match.rule;
  if (rule.allow === 'public') return allow(policy.respond, req, rule, 'public', undefined, undefined);
  if (rule.allow === 'deny') return deny(policy.respond, req, rule, 'rule_deny', `denied by rule ${rule.id}`);

  // 3. authenticate
  const authn = authenticate(policy, authenticators, req, rule, trace);
  return authn instanceof Promise
    ? authn.then((settled) => authorize(policy, req, match, settled, trace))
    : authorize(policy, req, match, authn, trace);
}

function authorize(
  policy: CompiledPolicy,
  req: AuthRequest,
  match: RouteMatch,
  authn: Authenticated,
  trace: Trace | undefined,
): Decision | Promise<Decision> {
  const rule = match.rule;
  if (authn === undefined) return deny(policy.respond, req, rule, 'no_credentials', 'authentication required');
  if ('failure' in authn) return authn.failure;
  const identity = authn.identity;

  // 4. authorize
  const tenant = match.tenant ?? identity.tenant;
  const grants = grantsFor(policy.access, identity, match.tenant);
  if (grants === 'tenant_denied') {
    trace?.('authorize', `${identity.name} belongs to tenant ${identity.tenant ?? '?'}, not ${match.tenant ?? '?'}`);
    return deny(policy.respond, req, rule, 'tenant_denied', `no access to tenant ${match.tenant ?? ''}`, { identity });
  }
  if (trace) {
    for (const g of describeGrants(grants)) {
      trace('authorize', `holds role ${g.role} via ${g.via}${g.namespace ? ` on namespace ${g.namespace}` : ''}: ${JSON.stringify(g.permissions)}`);
    }
  }
  if (rule.require) {
    // A search: the namespaces it can return come from its query (all of them when it names none).
    const searched = rule.require.namespaceFrom === 'query' ? queryNamespaces(req.query) : undefined;
    if (searched !== undefined) trace?.('authorize', searched === null ? 'search not limited to a namespace' : `search limited to ${searched.join(', ')}`);
    const check = searched === undefined
      ? checkPermission(grants, rule.require, match.namespace)
      : checkQueryNamespaces(grants, rule.require, searched);
    if (!check.permitted) {
      trace?.('authorize', `missing ${check.missing ?? rule.label}`);
      return deny(policy.respond, req, rule, 'permission_denied', `missing permission ${check.missing ?? rule.label}`, {
        identity,
        permission: rule.label,
        namespace: check.namespace ?? match.namespace,
      });
    }
    trace?.('authorize', `${rule.label} granted by ${check.grantedBy ?? 'a role'}`);
  }

  // 5. respond
  return allow(policy.respond, req, rule, 'permitted', identity, tenant, authn.responseHeaders, authn.repeated === true);
}
