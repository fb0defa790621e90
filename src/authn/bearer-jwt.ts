/**
 * BearerAuthenticator: a JWT from a trusted issuer, its signature checked
 * against that issuer's JWKS (never against a key or key URL the token
 * itself names).
 *
 * Order of checks, cheapest and most telling first:
 *   source has a token? → size and shape → token cache → decode (untrusted)
 *   → pick the issuer by `iss` → header (alg allow-list, kid, crit, embedded
 *   keys) → key from the JwksCache → jws-verify.ts's verifyJwtSync: jose's
 *   jwtVerify checks in jose's order, the signature by crypto.verify on the
 *   event loop (signature, iss, aud, exp/nbf with skew, exp and sub
 *   required; proven equal to jose by a property test; jose's own jwtVerify
 *   only if a key has no KeyObject twin) → `iat` not in the future
 *   beyond the skew → token type (token-type.ts: never a logout token, the
 *   issuer's `token-types`, ID tokens only if accepted) → Identity from the
 *   claims (`email` only when verified or the issuer is trusted for it).
 * Every path returns an AuthnResult; nothing here throws to the caller. The
 * answer is synchronous unless the issuer's keys must be fetched first.
 */
import { jwtVerify, type JWTPayload } from 'jose';
import type { Authenticator, AuthnResult } from './authenticator.js';
import { SKIP } from './authenticator.js';
import type { AuthRequest } from '../core/auth-request.js';
import type { BearerIssuerConfig, Config, TokenSource } from '../config/types.js';
import { identityFromClaims } from './claims-identity.js';
import type { JwksCache, KeyLookup } from './jwks-cache.js';
import { verifyJwtSync, type PreRead } from './jws-verify.js';
import { firstVerifications } from './verification-batch.js';
import { ASYMMETRIC_JWS_ALGORITHMS } from './jwks-keys.js';
import { ALG_NOT_ALLOWED, ISSUED_IN_FUTURE, MALFORMED, UNTRUSTED_ISSUER, bearerFailure, failureFromJoseError, typeFailure } from './jwt-failure.js';
import { TokenCache, type CachedFailure, type CachedToken } from './token-cache.js';
import { compileTokenSources, findToken, sourceId, type CompiledTokenSource } from './token-source.js';
import { normalizeTyp, tokenTypeProblem, type TokenTypeRules } from './token-type.js';
import { readUntrustedJwt } from './untrusted-jwt.js';

/** Larger than any real access token; refusing before parsing bounds the work an attacker can ask for. */
export const MAX_TOKEN_LENGTH = 16 * 1024;

const DEFAULT_SOURCES: readonly TokenSource[] = [{ header: 'authorization', prefix: 'Bearer ' }];
/** Header members that point at a key: we only ever verify with the issuer's JWKS, so a token carrying one is refused. */
const KEY_BEARING_HEADERS = ['jku', 'x5u', 'jwk'] as const;
const BASE64URL = /^[A-Za-z0-9_-]*$/;

export interface BearerAuthenticatorOptions {
  readonly issuers: readonly BearerIssuerConfig[];
  /** Allowed clock skew for exp/nbf/iat, seconds. */
  readonly clockSkewSeconds: number;
  /** Claims tried in order for the identity's name. */
  readonly userClaims: readonly string[];
  /** Default groups claim path (`kestra.security.oidc.groups-claim-path`); an issuer may override it. */
  readonly groupsClaimPath: string;
  /** One JwksCache per configured issuer, keyed by issuer; owned by the caller so it outlives config reloads. */
  readonly jwksCaches: ReadonlyMap<string, JwksCache>;
  /** Max verified tokens cached; 0 disables the cache. */
  readonly tokenCacheSize: number;
  /** Clock in ms; default Date.now. */
  readonly now?: () => number;
}

interface IssuerPlan {
  readonly issuer: string;
  /** Mutable type only because jose's options want string[]; never mutated. */
  readonly audiences: string[];
  readonly algorithms: string[];
  /** The same allow-list as a Set, as jws-verify takes it. */
  readonly algorithmSet: ReadonlySet<string>;
  readonly groupsClaimPath: string;
  readonly typeRules: TokenTypeRules;
  readonly trustEmail: boolean;
  readonly jwks: JwksCache;
  /** Prebuilt: the 503-class failure naming this (configured, non-secret) issuer. */
  readonly unavailable: CachedFailure;
}

type Verified = { readonly kind: 'ok'; readonly result: Extract<CachedToken, { kind: 'ok' }>; readonly exp: number };

const EMPTY = bearerFailure('token_malformed', 'bearer token is empty');
const TOO_LARGE = bearerFailure('token_malformed', `token is larger than ${MAX_TOKEN_LENGTH} bytes`);
const ENCRYPTED = bearerFailure('token_malformed', 'encrypted tokens (JWE) are not accepted');
const UNKNOWN_KID = bearerFailure('token_unknown_kid', "token key id is not in the issuer's key set");
const AMBIGUOUS_KEY = bearerFailure('token_unknown_kid', 'token has no key id and the issuer publishes several keys');
const CRIT = bearerFailure('token_invalid', 'token requires header extensions (crit) that are not supported');
const KEY_IN_HEADER = bearerFailure('token_invalid', 'token header names its own key (jku/x5u/jwk); only the issuer key set is trusted');
const NO_SUBJECT = bearerFailure('token_invalid', 'token has no usable sub claim');
const NO_EXPIRY = bearerFailure('token_invalid', 'token has no exp claim');
const REQUIRED_CLAIMS = ['exp', 'sub'];
const INTERNAL = bearerFailure('internal_error', 'bearer token could not be checked');

function checkIssuer(config: BearerIssuerConfig): void {
  if (config.audiences.length === 0) throw new TypeError(`bearer issuer ${config.issuer}: "audiences" must list at least one audience`);
  if (config.algorithms.length === 0) throw new TypeError(`bearer issuer ${config.issuer}: "algorithms" must list at least one algorithm`);
  for (const alg of config.algorithms) {
    if (!ASYMMETRIC_JWS_ALGORITHMS.has(alg)) {
      throw new TypeError(`bearer issuer ${config.issuer}: algorithm ${alg} is not allowed (one of ${[...ASYMMETRIC_JWS_ALGORITHMS].join(', ')})`);
    }
  }
}

/** Size bounds, checked before the token is even hashed for the cache. */
function sizeFailure(token: string): CachedFailure | undefined {
  if (token === '') return EMPTY;
  if (token.length > MAX_TOKEN_LENGTH) return TOO_LARGE;
  return undefined;
}

/**
 * Compact-JWS shape, before any decoding. Only on a cache miss: a cached
 * token already passed it, so the hot path pays no split or regex.
 */
function shapeFailure(token: string): CachedFailure | undefined {
  const parts = token.split('.');
  if (parts.length === 5) return ENCRYPTED;
  if (parts.length !== 3) return MALFORMED;
  // An empty signature (`alg: none`) passes here so it is reported as the algorithm problem it is.
  if (parts[0] === '' || parts[1] === '' || !parts.every((part) => BASE64URL.test(part))) return MALFORMED;
  return undefined;
}

export class BearerAuthenticator implements Authenticator {
  readonly name = 'bearer' as const;
  readonly #sources: readonly CompiledTokenSource[];
  /** Per source index: the issuers (by `iss`) that accept tokens from that source. */
  readonly #issuersBySource: readonly ReadonlyMap<string, IssuerPlan>[];
  readonly #cache: TokenCache;
  /** Verifications under way, by token cache key: requests with the same token wait for the one verification. */
  readonly #pending = new Map<string, Promise<AuthnResult>>();
  #verifications = 0;
  readonly #userClaims: readonly string[];
  readonly #clockToleranceSeconds: number;
  readonly #now: () => number;

  constructor(options: BearerAuthenticatorOptions) {
    if (!Number.isFinite(options.clockSkewSeconds) || options.clockSkewSeconds < 0) {
      throw new TypeError('BearerAuthenticator option "clockSkewSeconds" must be a number >= 0');
    }
    const plans: { plan: IssuerPlan; sources: readonly TokenSource[] }[] = [];
    const seen = new Set<string>();
    for (const config of options.issuers) {
      if (seen.has(config.issuer)) throw new TypeError(`bearer issuer ${config.issuer} is configured twice`);
      seen.add(config.issuer);
      checkIssuer(config);
      const jwks = options.jwksCaches.get(config.issuer);
      if (!jwks) throw new TypeError(`bearer issuer ${config.issuer}: no JwksCache was given for it`);
      plans.push({
        plan: Object.freeze({
          issuer: config.issuer,
          audiences: [...config.audiences],
          algorithms: [...config.algorithms],
          algorithmSet: new Set(config.algorithms),
          groupsClaimPath: config.groupsClaimPath ?? options.groupsClaimPath,
          typeRules: Object.freeze({ tokenTypes: Object.freeze((config.tokenTypes ?? []).map(normalizeTyp)), acceptIdTokens: config.acceptIdTokens ?? false }),
          trustEmail: config.trustEmail ?? false,
          jwks,
          unavailable: bearerFailure('jwks_unavailable', `keys of issuer ${config.issuer} are unavailable`),
        }),
        sources: config.from.length > 0 ? config.from : DEFAULT_SOURCES,
      });
    }
    this.#sources = Object.freeze(compileTokenSources(plans.flatMap((p) => p.sources)));
    this.#issuersBySource = this.#sources.map((source) => {
      const byIss = new Map<string, IssuerPlan>();
      for (const { plan, sources } of plans) {
        if (sources.some((s) => sourceId(s) === source.id)) byIss.set(plan.issuer, plan);
      }
      return byIss;
    });
    this.#now = options.now ?? Date.now;
    this.#cache = new TokenCache({ maxEntries: options.tokenCacheSize, now: this.#now });
    this.#userClaims = Object.freeze([...options.userClaims]);
    this.#clockToleranceSeconds = options.clockSkewSeconds;
  }

  /** The verified-token cache of this instance (hit/miss counts for tests and diagnostics). */
  get tokenCache(): TokenCache {
    return this.#cache;
  }

  /** Verifications started by this instance (a token answered from the cache or a pending verification starts none). */
  get verifications(): number {
    return this.#verifications;
  }

  /**
   * Synchronous for no token, a refused size, a cache hit and a token refused
   * before its signature is looked at; a promise when the signature must be
   * checked (in this turn's batch, verification-batch.ts) or the keys fetched.
   */
  authenticate(req: AuthRequest): AuthnResult | Promise<AuthnResult> {
    const found = findToken(req, this.#sources);
    if (!found) return SKIP;
    const { token, source } = found;
    const badSize = sizeFailure(token);
    if (badSize) return badSize;

    const key = TokenCache.keyOf(token, source.index);
    const cached = this.#cache.get(key);
    if (cached) return cached;
    // The same token again before its verification has ended (one turn's batch, or a JWKS fetch): one verification.
    const pending = this.#pending.get(key);
    if (pending) return pending;
    const badShape = shapeFailure(token);
    if (badShape) return badShape;
    let outcome: Verified | CachedFailure | Promise<Verified | CachedFailure>;
    try {
      outcome = this.#verify(token, this.#issuersBySource[source.index]!);
    } catch {
      // A bug of ours, not the token's fault: refuse (500), never allow, never cache.
      return INTERNAL;
    }
    // Synchronous when the token is refused before any signature check (untrusted issuer, alg, kid…).
    if (!(outcome instanceof Promise)) return this.#remember(outcome, key);
    const later = this.#rememberLater(outcome, key);
    this.#pending.set(key, later);
    return later;
  }

  async #rememberLater(pending: Promise<Verified | CachedFailure>, key: string): Promise<AuthnResult> {
    let outcome: Verified | CachedFailure;
    try {
      outcome = await pending;
    } catch {
      this.#pending.delete(key);
      return INTERNAL;
    }
    this.#pending.delete(key);
    return this.#remember(outcome, key);
  }

  #remember(outcome: Verified | CachedFailure, key: string): AuthnResult {
    if (outcome.kind === 'ok') {
      this.#cache.setVerified(key, outcome.result.identity, outcome.exp);
      return outcome.result;
    }
    this.#cache.setFailed(key, outcome);
    return outcome;
  }

  #verify(token: string, issuers: ReadonlyMap<string, IssuerPlan>): Verified | CachedFailure | Promise<Verified | CachedFailure> {
    // Decoded WITHOUT trust, only to choose the issuer and its key; the verification re-reads everything.
    const decoded = readUntrustedJwt(token);
    if (!decoded) return MALFORMED;
    const { header, claims } = decoded;
    const plan = typeof claims.iss === 'string' ? issuers.get(claims.iss) : undefined;
    if (!plan) return UNTRUSTED_ISSUER;

    const alg = header.alg;
    if (typeof alg !== 'string' || !plan.algorithmSet.has(alg)) return ALG_NOT_ALLOWED;
    const kid: unknown = header.kid;
    if (kid !== undefined && typeof kid !== 'string') return MALFORMED;
    if (header.crit !== undefined) return CRIT;
    if (KEY_BEARING_HEADERS.some((member) => Object.hasOwn(header, member))) return KEY_IN_HEADER;

    // Header and claims as read here are what the verifier would decode again (valid UTF-8): it re-checks, not re-decodes.
    const preRead = decoded.utf8 ? decoded : undefined;
    // Keys held answer at once; only an unknown kid (refetch allowed) or a first fetch waits.
    const known = plan.jwks.keyNow(alg, kid);
    if (known) return this.#verifyWith(known, token, plan, preRead);
    return plan.jwks.getKey(alg, kid).then((found) => this.#verifyWith(found, token, plan, preRead));
  }

  #verifyWith(found: KeyLookup, token: string, plan: IssuerPlan, preRead: PreRead | undefined): Verified | CachedFailure | Promise<Verified | CachedFailure> {
    switch (found.kind) {
      case 'unavailable':
        return plan.unavailable;
      case 'unknown_kid':
        return UNKNOWN_KID;
      case 'ambiguous':
        return AMBIGUOUS_KEY;
      case 'key':
        break;
    }
    const now = this.#now();
    this.#verifications++;
    const fast = found.fast;
    if (fast) {
      // jws-verify.ts: jose's checks, crypto.verify on the event loop (no WebCrypto thread-pool hop),
      // with the other first verifications of this turn (verification-batch.ts).
      return firstVerifications.run(() => {
        const verified = verifyJwtSync(token, fast, this.#joseOptions(plan, now, plan.algorithmSet), preRead);
        return verified.ok ? this.#accept(verified.header, verified.payload, plan, now) : failureFromJoseError(verified.error);
      });
    }
    return jwtVerify(token, found.key, this.#joseOptions(plan, now, plan.algorithms)).then(
      ({ payload, protectedHeader }) => this.#accept(protectedHeader, payload, plan, now),
      (err: unknown) => failureFromJoseError(err),
    );
  }

  #joseOptions<A>(plan: IssuerPlan, now: number, algorithms: A) {
    return {
      issuer: plan.issuer,
      audience: plan.audiences,
      algorithms,
      clockTolerance: this.#clockToleranceSeconds,
      currentDate: new Date(now),
      // API tokens must expire; and without a subject nothing can be bound to the caller.
      requiredClaims: REQUIRED_CLAIMS,
    };
  }

  /** After the signature and jose's claim checks: what jose does not check, then the identity. */
  #accept(verifiedHeader: Readonly<Record<string, unknown>>, payload: JWTPayload, plan: IssuerPlan, now: number): Verified | CachedFailure {
    // jose checks `iat` is a number when present, but not that it is past: a token dated ahead was minted with a wrong
    // clock or to outlive a key rotation; either way not a token to trust now.
    if (typeof payload.iat === 'number' && payload.iat > now / 1000 + this.#clockToleranceSeconds) return ISSUED_IN_FUTURE;
    const typeProblem = tokenTypeProblem(verifiedHeader, payload, plan.typeRules);
    if (typeProblem) return typeFailure(typeProblem);
    const identity = identityFromClaims(payload, {
      via: 'bearer',
      userClaims: this.#userClaims,
      groupsClaimPath: plan.groupsClaimPath,
      issuer: plan.issuer,
      trustEmail: plan.trustEmail,
    });
    if (!identity) return NO_SUBJECT;
    // jose has checked exp is present and numeric (requiredClaims); the guard keeps the type honest.
    if (typeof payload.exp !== 'number') return NO_EXPIRY;
    return { kind: 'ok', result: Object.freeze({ kind: 'ok', identity }), exp: payload.exp };
  }
}

/**
 * The bearer stage for one config snapshot, or undefined when no issuer is
 * configured (the chain then skips the stage at no cost). `jwksCaches` come
 * from reuseJwksCaches(config.bearer, previous) so keys survive reloads.
 */
export function createBearerAuthenticator(
  config: Config,
  jwksCaches: ReadonlyMap<string, JwksCache>,
  now?: () => number,
): BearerAuthenticator | undefined {
  if (config.bearer.issuers.length === 0) return undefined;
  return new BearerAuthenticator({
    issuers: config.bearer.issuers,
    clockSkewSeconds: config.bearer.clockSkewSeconds,
    userClaims: config.userClaims,
    groupsClaimPath: config.oidc.groupsClaimPath,
    jwksCaches,
    tokenCacheSize: config.tokenCacheSize,
    now,
  });
}
