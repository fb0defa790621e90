/**
 * The respond stage: turns what the pipeline found into a Decision. The one
 * place that decides how a denial looks (JSON body, WWW-Authenticate,
 * Retry-After) — and, with the login flow, whether a browser is redirected
 * instead of getting a 401 (see `loginRedirect` in RespondContext).
 */
import type { AuthRequest } from './auth-request.js';
import { deniedDecision, NO_HEADERS, type Decision, type HeaderPair } from './decision.js';
import type { HeaderPolicy } from './header-policy.js';
import { cookieHeaderWithoutOwn, upstreamHeadersFor } from './header-policy.js';
import { LRUCache } from 'lru-cache';
import type { Identity } from './identity.js';
import { REASONS, type ReasonCode } from './reasons.js';
import type { IdentityTokens, IssuedToken } from '../identity/identity-tokens.js';

export interface RuleRef {
  readonly id: string;
  readonly label: string;
  /** The signed identity token's `aud` for this rule's allows (authz.rules[].identity-audience). */
  readonly identityAudience?: string;
}

export interface RespondContext {
  readonly headers: HeaderPolicy;
  readonly realm: string;
  readonly basicEnabled: boolean;
  /**
   * Login hook for unauthenticated requests: returns a 302 decision for a
   * browser navigation, or undefined to fall back to 401. Absent (null) when
   * no login flow is configured, so the API path costs nothing.
   */
  readonly loginRedirect: ((req: AuthRequest, rule: RuleRef, reason: ReasonCode) => Decision | undefined) | null;
  /** Where allow answers of cached identities are remembered (one per engine); absent = build every time. */
  readonly allowParts?: AllowPartsMemo;
  /** authz.identity-token: signs the token set on every allow; absent/null = off. */
  readonly identityTokens?: IdentityTokens | null;
  /** The header that token goes in (lower case); one of `headers.identityHeaders`. */
  readonly identityTokenHeader?: string;
}

/** The parts of an allow that follow from identity, rule, reason and tenant alone. */
interface AllowParts {
  readonly set: readonly HeaderPair[];
  readonly remove: readonly string[];
  readonly metadata: Readonly<Record<string, string>>;
  /** The signed identity token among `set`: the parts are good only while it is fresh. */
  readonly token?: IssuedToken;
}

/** Distinct (rule, tenant) answers remembered per identity; a tenant comes from the URL, so this is bounded. */
const MAX_PARTS_PER_IDENTITY = 16;
/**
 * Identities whose parts are remembered: the busy ones. Bounded apart from
 * the token cache, so that a flood of distinct valid tokens (each remembered
 * once, never reused) costs this memo nothing beyond these entries.
 */
const MAX_REMEMBERED_IDENTITIES = 4096;

/**
 * A cached token's identity is one object for as long as the token cache
 * keeps it, and every request it makes to the same rule gets the same
 * identity headers and metadata. Remembering those parts (frozen, by
 * identity object, least recently used first out) saves rebuilding them per
 * request, and lets the gRPC door reuse the encoded answer
 * (check-response-wire.ts keys its own memo by these very objects). Requests
 * whose cookie header must be rewritten, or that add response headers, are
 * never memoized.
 */
export class AllowPartsMemo {
  readonly #byIdentity = new LRUCache<Identity, Map<string, AllowParts>>({ max: MAX_REMEMBERED_IDENTITIES });

  get(identity: Identity, key: string): AllowParts | undefined {
    return this.#byIdentity.get(identity)?.get(key);
  }

  remember(identity: Identity, key: string, parts: AllowParts): AllowParts {
    let byKey = this.#byIdentity.get(identity);
    if (!byKey) {
      byKey = new Map();
      this.#byIdentity.set(identity, byKey);
    }
    const frozen = Object.freeze({
      set: Object.freeze(parts.set.map((pair) => Object.freeze(pair))),
      remove: Object.freeze([...parts.remove]),
      metadata: Object.freeze({ ...parts.metadata }),
      ...(parts.token === undefined ? {} : { token: parts.token }),
    });
    // Replacing an entry whose token went stale keeps the count; a new key only while there is room.
    if (byKey.size < MAX_PARTS_PER_IDENTITY || byKey.has(key)) byKey.set(key, frozen);
    return frozen;
  }
}

/** Denials a browser can fix by logging in (again); the login hook may turn them into a 302. */
const LOGIN_REASONS: ReadonlySet<ReasonCode> = new Set(['no_credentials', 'session_expired', 'session_invalid']);


export function allow(
  ctx: RespondContext,
  req: AuthRequest,
  rule: RuleRef,
  reason: 'public' | 'permitted',
  identity: Identity | undefined,
  tenant: string | undefined,
  responseHeaders: readonly HeaderPair[] = NO_HEADERS,
  repeatedIdentity = false,
): Decision | Promise<Decision> {
  const parts = allowPartsFor(ctx, req, rule, reason, identity, repeatedIdentity, tenant, responseHeaders);
  return parts instanceof Promise
    ? parts.then((settled) => allowDecision(req, rule, reason, identity, responseHeaders, settled))
    : allowDecision(req, rule, reason, identity, responseHeaders, parts);
}

function allowDecision(
  req: AuthRequest,
  rule: RuleRef,
  reason: 'public' | 'permitted',
  identity: Identity | undefined,
  responseHeaders: readonly HeaderPair[],
  parts: AllowParts,
): Decision {
  return {
    allow: true,
    status: 200,
    reason,
    message: reason === 'public' ? 'public route' : 'permitted',
    requestId: req.id,
    ruleId: rule.id,
    ruleLabel: rule.label,
    identity,
    upstreamHeaders: parts.set,
    upstreamHeadersToRemove: parts.remove,
    responseHeaders,
    body: '',
    metadata: parts.metadata,
  };
}

/**
 * Only identities the authenticator hands out again (`repeated`: a cached
 * token's) are remembered. With the identity token on, remembered parts
 * carry the token and are used only while it is fresh; a token not cached
 * yet makes this asynchronous (one signature).
 */
function allowPartsFor(
  ctx: RespondContext,
  req: AuthRequest,
  rule: RuleRef,
  reason: 'public' | 'permitted',
  identity: Identity | undefined,
  repeated: boolean,
  tenant: string | undefined,
  responseHeaders: readonly HeaderPair[],
): AllowParts | Promise<AllowParts> {
  const memo = ctx.allowParts;
  const tokens = ctx.identityTokens ?? undefined;
  const audience = tokens === undefined ? '' : tokens.audienceFor(rule.identityAudience, req.host);
  const reusable = repeated && memo !== undefined && identity !== undefined && responseHeaders.length === 0 &&
    cookieHeaderWithoutOwn(ctx.headers, req.headers.cookie) === undefined ? identity : undefined;
  const key = reusable ? `${rule.id}\n${reason}\n${tenant ?? ''}\n${audience}` : '';
  if (reusable) {
    const known = memo!.get(reusable, key);
    if (known && (known.token === undefined || tokens === undefined || tokens.fresh(known.token))) {
      if (known.token !== undefined) tokens!.reused();
      return known;
    }
  }
  if (tokens === undefined) return buildAllowParts(ctx, req, rule, reason, identity, tenant, reusable, key, undefined);
  // No identity: a public route's anonymous caller (identity-tokens.ts).
  const token = tokens.tokenFor(identity, audience, rule.id, tenant);
  return token instanceof Promise
    ? token.then((issued) => buildAllowParts(ctx, req, rule, reason, identity, tenant, reusable, key, issued))
    : buildAllowParts(ctx, req, rule, reason, identity, tenant, reusable, key, token);
}

function buildAllowParts(
  ctx: RespondContext,
  req: AuthRequest,
  rule: RuleRef,
  reason: 'public' | 'permitted',
  identity: Identity | undefined,
  tenant: string | undefined,
  reusable: Identity | undefined,
  key: string,
  token: IssuedToken | undefined,
): AllowParts {
  const extra: HeaderPair[] = token === undefined ? [] : [[ctx.identityTokenHeader!, token.value]];
  const upstream = upstreamHeadersFor(ctx.headers, identity, tenant, req.headers.cookie, extra);
  const metadata: Record<string, string> = { rule: rule.id, reason };
  if (identity) {
    metadata.user = identity.name;
    metadata.via = identity.via;
    if (identity.groups.length) metadata.groups = identity.groups.join(',');
  }
  const parts: AllowParts = token === undefined
    ? { set: upstream.set, remove: upstream.remove, metadata }
    : { set: upstream.set, remove: upstream.remove, metadata, token };
  return reusable ? ctx.allowParts!.remember(reusable, key, parts) : parts;
}

/** RFC 6750 §3 quoted-string: no quotes, backslashes or controls inside. */
function quoted(value: string): string {
  // eslint-disable-next-line no-control-regex
  return `"${value.replace(/["\\\x00-\x1f\x7f]/g, '')}"`;
}

function challenges(ctx: RespondContext, req: AuthRequest, reason: ReasonCode, message: string): HeaderPair[] {
  const basic: HeaderPair = ['www-authenticate', `Basic realm=${quoted(ctx.realm)}, charset="UTF-8"`];
  if (reason.startsWith('basic_')) return [basic];
  if (reason === 'no_credentials') {
    // RFC 6750 §3.1: no error code when the request carried no credentials.
    const out: HeaderPair[] = [['www-authenticate', `Bearer realm=${quoted(ctx.realm)}`]];
    // A Basic challenge makes browsers pop a native dialog on XHR; offer it to non-script clients only.
    const fromScript = req.headers['x-requested-with'] !== undefined || req.headers['sec-fetch-mode'] === 'cors';
    if (ctx.basicEnabled && !fromScript) out.push(basic);
    return out;
  }
  return [[
    'www-authenticate',
    `Bearer realm=${quoted(ctx.realm)}, error="invalid_token", error_description=${quoted(message)}`,
  ]];
}

export interface DenyDetails {
  readonly identity?: Identity;
  /** The permission that was missing (403), e.g. 'FLOW:READ'. */
  readonly permission?: string;
  readonly namespace?: string;
}

/** content-type, the challenges of a 401, Retry-After of a 503, no-store. */
function jsonDenialHeaders(status: number, challenge: readonly HeaderPair[]): HeaderPair[] {
  const headers: HeaderPair[] = [['content-type', 'application/json'], ...challenge];
  if (status === 503) headers.push(['retry-after', '5']);
  headers.push(['cache-control', 'no-store']);
  return headers;
}

/**
 * A door's own failure — a request it cannot turn into an AuthRequest (400),
 * one it will not decode now for lack of memory budget (503), or an
 * exception while deciding (500). Needs no config: never a challenge, never
 * a redirect, never an allow.
 */
export function errorDenial(requestId: string, reason: 'bad_request' | 'overloaded' | 'internal_error', message: string): Decision {
  const status = REASONS[reason].status;
  return deniedDecision({
    status,
    reason,
    message,
    requestId,
    ruleId: '',
    ruleLabel: '',
    headers: jsonDenialHeaders(status, NO_HEADERS),
    body: JSON.stringify({ error: reason, message, requestId }),
    metadata: { reason },
  });
}

export function deny(
  ctx: RespondContext,
  req: AuthRequest,
  rule: RuleRef,
  reason: ReasonCode,
  message: string,
  details: DenyDetails = {},
): Decision {
  const status: number = REASONS[reason].status;
  if (status === 401 && ctx.loginRedirect && LOGIN_REASONS.has(reason)) {
    const redirect = ctx.loginRedirect(req, rule, reason);
    if (redirect) return redirect;
  }
  const headers = jsonDenialHeaders(status, status === 401 ? challenges(ctx, req, reason, message) : NO_HEADERS);
  const doc: Record<string, string> = { error: reason, message, requestId: req.id };
  if (details.permission) doc.permission = details.permission;
  if (details.namespace) doc.namespace = details.namespace;
  const metadata: Record<string, string> = rule.id ? { rule: rule.id, reason } : { reason };
  if (details.identity) metadata.user = details.identity.name;
  return deniedDecision({
    status,
    reason,
    message,
    requestId: req.id,
    ruleId: rule.id,
    ruleLabel: rule.label,
    identity: details.identity,
    headers,
    body: JSON.stringify(doc),
    metadata,
  });
}
