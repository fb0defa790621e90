/**
 * The identity token's key ring: one active key (signs), the other keys of
 * the key file (published), and keys that stopped being either at a config
 * reload — still published until every token they signed has expired, so a
 * verifier that fetched the JWKS after the rotation still accepts the tokens
 * handed out just before it.
 *
 * One ring per process, kept across reloads (build-engine.ts; a `serve
 * --workers N` primary holds one too, to publish the JWKS on the management
 * port: server/group-identity-keys.ts); the JWKS document is rebuilt only
 * when its key list changes.
 */
import type { JWK } from 'jose';
import type { KeySet, SigningKey } from './signing-keys.js';

/** Beyond a retired key's last token's expiry: verifiers' clock skew and an in-flight signature. */
export const RETIRE_MARGIN_MS = 10_000;

/** Verifiers may cache the JWKS this long (Cache-Control max-age of /.well-known/jwks.json). */
export const JWKS_MAX_AGE_SECONDS = 300;

export interface JwksDocument {
  /** `{"keys":[…]}` as served. */
  readonly body: string;
  readonly kids: readonly string[];
}

interface Retiring {
  readonly key: SigningKey;
  /** Epoch ms after which no token it signed is valid any more. */
  readonly until: number;
}

export class IdentityKeyRing {
  readonly #now: () => number;
  #set: KeySet | undefined;
  /** Longest token lifetime of the set installed now: how long its keys stay published once replaced. */
  #ttlMs = 0;
  #retiring: Retiring[] = [];
  #document: JwksDocument | undefined;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** The key that signs now; undefined before the first install. */
  get active(): SigningKey | undefined {
    return this.#set?.active;
  }

  /** The generated set installed now, to keep it across a reload that changes nothing about keys. */
  get generated(): KeySet | undefined {
    return this.#set?.generated ? this.#set : undefined;
  }

  /**
   * Makes `set` the ring's keys; `ttlMs` is the lifetime of the tokens it
   * will sign. Keys of the previous set not in the new one stay published
   * until the tokens they signed have expired.
   */
  install(set: KeySet, ttlMs: number): void {
    if (set === this.#set) {
      this.#ttlMs = Math.max(this.#ttlMs, ttlMs);
      return;
    }
    const now = this.#now();
    const kept = new Set([set.active, ...set.published].map((k) => k.kid));
    const previous = this.#set ? [this.#set.active, ...this.#set.published] : [];
    const until = now + this.#ttlMs + RETIRE_MARGIN_MS;
    this.#retiring = this.#retiring.filter((r) => r.until > now && !kept.has(r.key.kid));
    for (const key of previous) {
      if (!kept.has(key.kid) && !this.#retiring.some((r) => r.key.kid === key.kid)) this.#retiring.push({ key, until });
    }
    this.#set = set;
    this.#ttlMs = ttlMs;
    this.#document = undefined;
  }

  /** The public keys to publish now: active, the set's others, the retiring ones not yet past their tokens' expiry. */
  jwks(): JwksDocument {
    const now = this.#now();
    const before = this.#retiring.length;
    this.#retiring = this.#retiring.filter((r) => r.until > now);
    if (this.#document && this.#retiring.length === before) return this.#document;
    const keys: JWK[] = [];
    if (this.#set) keys.push(this.#set.active.publicJwk, ...this.#set.published.map((k) => k.publicJwk));
    for (const r of this.#retiring) keys.push(r.key.publicJwk);
    this.#document = Object.freeze({ body: JSON.stringify({ keys }), kids: Object.freeze(keys.map((k) => k.kid!)) });
    return this.#document;
  }
}
