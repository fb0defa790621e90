/**
 * TokenCache: verified bearer tokens (and recent failures) by token hash, so
 * a token presented again costs a hash and a map lookup instead of a
 * signature check.
 *
 * - Keys are SHA-256 (base64url) of the token plus where it was read from;
 *   the token itself is never stored.
 * - Positive entries live until the token's `exp`, checked against the
 *   injected clock on read (an entry past exp is a miss; the verification
 *   that follows then answers "expired").
 * - Negative entries (a forged signature, a wrong audience…) live a short,
 *   bounded time in a smaller LRU of their own, so a flood of bad tokens
 *   neither costs a verify each nor evicts good entries. Failures that can
 *   heal on their own are never cached (see UNCACHED_FAILURES).
 * - One cache per BearerAuthenticator: a config reload builds a new
 *   authenticator, so entries never outlive the issuer settings they were
 *   verified under.
 */
import * as crypto from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { AuthnResult } from './authenticator.js';
import type { Identity } from '../core/identity.js';
import type { AuthnFailureReason } from '../core/reasons.js';

/**
 * SHA-256 of a token, base64url. `crypto.hash` (Node ≥ 20.12) is the one-shot
 * form, without a Hash object per call — measurable on the cached-token path;
 * createHash is the fallback for older runtimes.
 */
const oneShotHash = (crypto as { hash?: (algorithm: string, data: string, encoding: 'base64url') => string }).hash;
function sha256Base64url(token: string): string {
  return oneShotHash ? oneShotHash('sha256', token, 'base64url') : crypto.createHash('sha256').update(token).digest('base64url');
}
import { tokenCacheHits, tokenCacheMisses } from '../observability/metrics.js';

export type CachedFailure = Extract<AuthnResult, { kind: 'fail' }>;

export type CachedToken =
  | { readonly kind: 'ok'; readonly identity: Identity; readonly repeated?: boolean }
  | CachedFailure;

interface Entry {
  readonly value: CachedToken;
  /** ms since epoch (injected clock) after which the entry is a miss. */
  readonly expiresAt: number;
}

/**
 * Failures that heal without the token changing: the issuer's keys come
 * back or rotate in (jwks_unavailable, token_unknown_kid), or time passes
 * (token_not_yet_valid), or the failure was ours (internal_error).
 */
const UNCACHED_FAILURES: ReadonlySet<AuthnFailureReason> = new Set<AuthnFailureReason>([
  'jwks_unavailable',
  'token_unknown_kid',
  'token_not_yet_valid',
  'internal_error',
]);

export const DEFAULT_NEGATIVE_TTL_MS = 60_000;
export const MAX_NEGATIVE_ENTRIES = 10_000;

export interface TokenCacheOptions {
  /** Max positive entries (`authz.token-cache-size`); 0 disables caching. */
  readonly maxEntries: number;
  /** Max negative entries; default min(maxEntries, 10 000). */
  readonly maxNegativeEntries?: number;
  readonly negativeTtlMs?: number;
  /** Clock in ms; default Date.now. */
  readonly now?: () => number;
}

export class TokenCache {
  readonly #positive: LRUCache<string, Entry> | undefined;
  readonly #negative: LRUCache<string, Entry> | undefined;
  readonly #negativeTtlMs: number;
  readonly #now: () => number;
  #hits = 0;
  #misses = 0;

  constructor(options: TokenCacheOptions) {
    const max = options.maxEntries;
    if (!Number.isInteger(max) || max < 0) throw new TypeError('TokenCache option "maxEntries" must be an integer >= 0');
    const negativeMax = options.maxNegativeEntries ?? Math.min(max, MAX_NEGATIVE_ENTRIES);
    if (!Number.isInteger(negativeMax) || negativeMax < 0) {
      throw new TypeError('TokenCache option "maxNegativeEntries" must be an integer >= 0');
    }
    const ttl = options.negativeTtlMs ?? DEFAULT_NEGATIVE_TTL_MS;
    if (!Number.isFinite(ttl) || ttl < 0) throw new TypeError('TokenCache option "negativeTtlMs" must be a number >= 0');
    this.#positive = max > 0 ? new LRUCache<string, Entry>({ max }) : undefined;
    this.#negative = negativeMax > 0 && ttl > 0 ? new LRUCache<string, Entry>({ max: negativeMax }) : undefined;
    this.#negativeTtlMs = ttl;
    this.#now = options.now ?? Date.now;
  }

  /** Cache key of a token read from a given source (a token is only trusted for the sources it was verified from). */
  static keyOf(token: string, sourceIndex: number): string {
    return `${sourceIndex}:${sha256Base64url(token)}`;
  }

  /** Hits / misses of this instance (the Prometheus counters add up all instances). */
  get hits(): number {
    return this.#hits;
  }

  get misses(): number {
    return this.#misses;
  }

  get size(): number {
    return (this.#positive?.size ?? 0) + (this.#negative?.size ?? 0);
  }

  /** A live entry, counted as a hit; else a miss (expired entries are dropped). */
  get(key: string): CachedToken | undefined {
    const now = this.#now();
    const entry = this.#live(this.#positive, key, now) ?? this.#live(this.#negative, key, now);
    if (entry) {
      this.#hits++;
      tokenCacheHits.inc();
      return entry.value;
    }
    this.#misses++;
    tokenCacheMisses.inc();
    return undefined;
  }

  /** Remembers a verified identity until `expSeconds` (the token's exp). */
  setVerified(key: string, identity: Identity, expSeconds: number): void {
    const expiresAt = expSeconds * 1000;
    if (!this.#positive || !(expiresAt > this.#now())) return;
    this.#negative?.delete(key);
    // `repeated`: every later get() hands out this same identity again.
    this.#positive.set(key, { value: { kind: 'ok', identity, repeated: true }, expiresAt });
  }

  /** Remembers a failure for the negative TTL, unless it may heal by itself. */
  setFailed(key: string, failure: CachedFailure): void {
    if (!this.#negative || UNCACHED_FAILURES.has(failure.reason)) return;
    this.#negative.set(key, { value: failure, expiresAt: this.#now() + this.#negativeTtlMs });
  }

  clear(): void {
    this.#positive?.clear();
    this.#negative?.clear();
  }

  #live(cache: LRUCache<string, Entry> | undefined, key: string, now: number): Entry | undefined {
    const entry = cache?.get(key);
    if (!entry) return undefined;
    if (now < entry.expiresAt) return entry;
    cache!.delete(key);
    return undefined;
  }
}
