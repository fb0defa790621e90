/**
 * The signed identity token (Oathkeeper's `id_token` mutator, Pomerium's
 * `X-Pomerium-Jwt-Assertion`): on an allow, a short-lived JWT telling the
 * upstream who the caller is, which it (or Istio's RequestAuthentication)
 * verifies against our `/.well-known/jwks.json` instead of trusting plain
 * `x-kestra-*` headers.
 *
 * Claims: `iss` (the external URL), `aud` (the rule's `identity-audience`,
 * else `authz.identity-token.audience`, else the request host), `sub`,
 * `name`, `email`, `groups`, `tenant`, `rule` (the matched rule's id),
 * `auth_method` (session | bearer | basic | mtls), `iat`, `exp` (`ttl`
 * after iat, never after the caller's own credential expires), `jti`.
 * A public route's allow without a caller gets one too — `sub` and `name`
 * `anonymous`, no groups, `auth_method: none` — so an upstream that requires
 * the token (Istio's ALLOW on requestPrincipals) still serves public pages,
 * and can tell they passed kestra-authz.
 * Header: `alg`, `kid` (the ring's active key), `typ: JWT`.
 *
 * Cost: one signature per identity × audience × rule × tenant, reused until
 * a quarter of its lifetime is left (so a verifier with a clock up to that
 * much ahead still accepts it), or until the active key changes. Concurrent
 * requests for the same missing token share one signature.
 */
import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { LRUCache } from 'lru-cache';
import type { Identity } from '../core/identity.js';
import { countIdentityToken } from '../observability/metrics.js';
import type { IdentityKeyRing } from './key-ring.js';
import { SigningKeyError } from './signing-keys.js';

/** A token as handed out; `renewAt` and `kid` say until when it may be handed out again. */
export interface IssuedToken {
  readonly value: string;
  readonly kid: string;
  /** Epoch ms: after this a new token is signed. */
  readonly renewAt: number;
  /** Epoch seconds: the token's `exp`. */
  readonly expiresAt: number;
}

export interface IdentityTokenOptions {
  /** `iss`: the external URL. */
  readonly issuer: string;
  readonly ttlSeconds: number;
  /** Fixed audience (authz.identity-token.audience); undefined = the request host. */
  readonly audience?: string;
  /** Tokens cached (identity × audience × rule × tenant), least recently used out first. */
  readonly cacheSize: number;
  readonly now?: () => number;
}

/** `sub` and `name` of a public route's caller without credentials. */
export const ANONYMOUS = 'anonymous';
/** Not JSON, so no identity's key can equal it. */
const ANONYMOUS_KEY = '-anonymous-';

/** Share of the lifetime after which a token is renewed. */
const RENEW_AFTER = 0.75;

/** The request host as an audience: lower case, without a port (`Kestra.example.com:443` → `kestra.example.com`). */
export function hostAudience(host: string): string {
  const h = host.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end === -1 ? h : h.slice(0, end + 1);
  }
  const colon = h.indexOf(':');
  return colon === -1 ? h : h.slice(0, colon);
}

export class IdentityTokens {
  readonly #ring: IdentityKeyRing;
  readonly #options: IdentityTokenOptions;
  readonly #now: () => number;
  readonly #cache: LRUCache<string, IssuedToken>;
  readonly #pending = new Map<string, Promise<IssuedToken>>();
  /** A cache key part per identity object (cached credentials hand out the same object every time). */
  readonly #identityKeys = new WeakMap<Identity, string>();

  constructor(ring: IdentityKeyRing, options: IdentityTokenOptions) {
    this.#ring = ring;
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#cache = new LRUCache({ max: Math.max(1, options.cacheSize) });
  }

  /** The audience a request gets: the rule's, else the configured one, else its host. */
  audienceFor(ruleAudience: string | undefined, host: string): string {
    return ruleAudience ?? this.#options.audience ?? hostAudience(host);
  }

  /** Still good to hand out now: before its renewal time, and signed by the key that signs now. */
  fresh(token: IssuedToken): boolean {
    return token.renewAt > this.#now() && token.kid === this.#ring.active?.kid;
  }

  /** Counts a token reused from a memo outside this cache (respond.ts's allow parts). */
  reused(): void {
    countIdentityToken('cached');
  }

  /** The token for this identity (undefined = anonymous), audience, rule and tenant: the cached one while fresh, else a new signature. */
  tokenFor(identity: Identity | undefined, audience: string, ruleId: string, tenant: string | undefined): IssuedToken | Promise<IssuedToken> {
    const key = `${this.#identityKey(identity)}\u0000${audience}\u0000${ruleId}\u0000${tenant ?? ''}`;
    const cached = this.#cache.get(key);
    if (cached !== undefined && this.fresh(cached)) {
      countIdentityToken('cached');
      return cached;
    }
    let pending = this.#pending.get(key);
    if (pending === undefined) {
      pending = this.#mint(identity, audience, ruleId, tenant).then(
        (token) => {
          this.#pending.delete(key);
          this.#cache.set(key, token);
          return token;
        },
        (err: unknown) => {
          this.#pending.delete(key);
          throw err;
        },
      );
      this.#pending.set(key, pending);
    } else {
      countIdentityToken('cached');
    }
    return pending;
  }

  #identityKey(identity: Identity | undefined): string {
    if (identity === undefined) return ANONYMOUS_KEY;
    let key = this.#identityKeys.get(identity);
    if (key === undefined) {
      key = JSON.stringify([identity.via, identity.subject, identity.name, identity.email ?? null, identity.groups,
        identity.issuer ?? null, identity.provider ?? null, identity.tenant ?? null, identity.expiresAt ?? null]);
      this.#identityKeys.set(identity, key);
    }
    return key;
  }

  async #mint(identity: Identity | undefined, audience: string, ruleId: string, tenant: string | undefined): Promise<IssuedToken> {
    const key = this.#ring.active;
    if (key === undefined) throw new SigningKeyError('no identity-token signing key is installed');
    const now = this.#now();
    const iat = Math.floor(now / 1000);
    let exp = iat + this.#options.ttlSeconds;
    // Never outlive the credential it stands for (a Bearer token about to expire).
    if (identity?.expiresAt !== undefined && identity.expiresAt < exp) exp = Math.max(iat + 1, Math.floor(identity.expiresAt));
    const claims: Record<string, unknown> = identity === undefined
      ? { name: ANONYMOUS, groups: [], rule: ruleId, auth_method: 'none' }
      : { name: identity.name, groups: [...identity.groups], rule: ruleId, auth_method: identity.via };
    if (identity?.email !== undefined) claims.email = identity.email;
    if (tenant !== undefined) claims.tenant = tenant;
    const value = await new SignJWT(claims)
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' })
      .setIssuer(this.#options.issuer)
      .setAudience(audience)
      .setSubject(identity?.subject ?? ANONYMOUS)
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .setJti(randomUUID())
      .sign(await key.cryptoKey());
    countIdentityToken('minted');
    const lifetimeMs = (exp - iat) * 1000;
    return Object.freeze({ value, kid: key.kid, renewAt: iat * 1000 + Math.floor(lifetimeMs * RENEW_AFTER), expiresAt: exp });
  }
}
