/**
 * JwksCache: the verification keys of one trusted issuer.
 *
 * Same ideas as jose's createRemoteJWKSet (one fetch in flight, a cooldown
 * separate from the max-age, refetch on an unknown kid only after the
 * cooldown, a timeout per request), plus what an authorization service needs:
 * - keys are kept when the issuer becomes unreachable or serves garbage:
 *   tokens signed with known keys keep verifying; only an unknown kid is
 *   refused. Only a successful fetch replaces the set (so rotation removes
 *   keys the issuer stopped publishing);
 * - a stale set is refreshed in the background, never blocking a request
 *   that has a usable key;
 * - the cooldown runs from the last *attempt*, so a down issuer is asked at
 *   most once per cooldown however many requests arrive;
 * - `jwks_uri` found by OIDC discovery when not configured;
 * - every fetch counted in `jwks_fetch_total{issuer,result}`, the key count
 *   in `jwks_keys{issuer}`, state readable through getters (readiness).
 */
import { jwksFetchTotal, jwksKeys } from '../observability/metrics.js';
import { DEFAULT_MAX_JWKS_BYTES, JwksFetchError, discoverJwksUri, fetchJwksKeys, type FetchLimits } from './jwks-fetch.js';
import { ASYMMETRIC_JWS_ALGORITHMS, importVerificationKeys, type FoundKey, type VerificationKeys } from './jwks-keys.js';

export interface JwksCacheOptions {
  /** Configured issuer: the `iss` tokens must carry, the discovery base and the metric label. */
  readonly issuer: string;
  /** Given directly; undefined = discovered from `<issuer>/.well-known/openid-configuration`. */
  readonly jwksUri?: string;
  /** Allowed (asymmetric) algorithms; keys that fit none of them are not imported. */
  readonly algorithms: readonly string[];
  /** A set older than this is refreshed in the background. */
  readonly maxAgeMs: number;
  /** Minimum time between two fetch attempts. */
  readonly cooldownMs: number;
  /** Per-request timeout (discovery and JWKS each). */
  readonly timeoutMs: number;
  readonly maxResponseBytes?: number;
  /** Clock in ms (tests); default Date.now. */
  readonly now?: () => number;
}

export type KeyLookup =
  | FoundKey
  /** Keys are known but none fits the token's kid/alg, even after a refetch allowed by the cooldown. */
  | { readonly kind: 'unknown_kid' }
  /** The token has no kid and several keys fit. */
  | { readonly kind: 'ambiguous' }
  /** No key set was ever obtained from the issuer: fail closed, as a dependency failure. */
  | { readonly kind: 'unavailable' };

export interface JwksLastError {
  readonly code: string;
  readonly result: JwksFetchError['result'];
  /** Safe text: URLs and HTTP statuses only. */
  readonly message: string;
}

const UNKNOWN_KID: KeyLookup = Object.freeze({ kind: 'unknown_kid' });
const AMBIGUOUS: KeyLookup = Object.freeze({ kind: 'ambiguous' });
const UNAVAILABLE: KeyLookup = Object.freeze({ kind: 'unavailable' });

function checkDuration(value: number, option: string, min: number): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    throw new TypeError(`JwksCache option "${option}" must be a finite number >= ${min}`);
  }
}

export class JwksCache {
  readonly issuer: string;
  /** See settingsKeyOf. */
  readonly settingsKey: string;
  readonly #configuredUri: string | undefined;
  readonly #algorithms: readonly string[];
  readonly #maxAgeMs: number;
  readonly #cooldownMs: number;
  readonly #now: () => number;
  readonly #limits: FetchLimits;
  readonly #closing = new AbortController();

  #keys: VerificationKeys | undefined;
  #discoveredUri: string | undefined;
  #lastFetchAt: number | undefined;
  #lastAttemptAt: number | undefined;
  #lastError: JwksLastError | undefined;
  #inFlight: Promise<boolean> | undefined;

  constructor(options: JwksCacheOptions) {
    if (typeof options.issuer !== 'string' || options.issuer === '') throw new TypeError('JwksCache option "issuer" is required');
    if (options.jwksUri !== undefined && !URL.canParse(options.jwksUri)) {
      throw new TypeError(`JwksCache option "jwksUri" of issuer ${options.issuer} is not a URL`);
    }
    if (!Array.isArray(options.algorithms) || options.algorithms.length === 0) {
      throw new TypeError('JwksCache option "algorithms" must list at least one algorithm');
    }
    const symmetric = options.algorithms.find((alg) => !ASYMMETRIC_JWS_ALGORITHMS.has(alg));
    if (symmetric !== undefined) throw new TypeError(`JwksCache option "algorithms": ${symmetric} is not an asymmetric JWS algorithm`);
    checkDuration(options.maxAgeMs, 'maxAgeMs', 0);
    checkDuration(options.cooldownMs, 'cooldownMs', 0);
    checkDuration(options.timeoutMs, 'timeoutMs', 1);
    this.issuer = options.issuer;
    this.settingsKey = JwksCache.settingsKeyOf(options);
    this.#configuredUri = options.jwksUri;
    this.#algorithms = Object.freeze([...options.algorithms]);
    this.#maxAgeMs = options.maxAgeMs;
    this.#cooldownMs = options.cooldownMs;
    this.#now = options.now ?? Date.now;
    this.#limits = {
      timeoutMs: Math.trunc(options.timeoutMs),
      maxBytes: options.maxResponseBytes ?? DEFAULT_MAX_JWKS_BYTES,
      signal: this.#closing.signal,
    };
    // A series from the start, so `jwks_keys == 0` can alert before the first fetch succeeds.
    jwksKeys.labels(this.issuer).set(0);
  }

  /** Identity of the settings: a cache can be reused across config reloads when this is unchanged. */
  static settingsKeyOf(options: JwksCacheOptions): string {
    return JSON.stringify([options.issuer, options.jwksUri ?? null, [...options.algorithms].sort(),
      options.maxAgeMs, options.cooldownMs, options.timeoutMs, options.maxResponseBytes ?? DEFAULT_MAX_JWKS_BYTES]);
  }

  /** Keys currently held (0 before the first successful fetch). */
  get keyCount(): number {
    return this.#keys?.size ?? 0;
  }

  /** True once a key set was fetched (even an empty one); stays true when the issuer later goes down. */
  get hasKeySet(): boolean {
    return this.#keys !== undefined;
  }

  /** Time (ms) of the last successful fetch. */
  get lastFetchAt(): number | undefined {
    return this.#lastFetchAt;
  }

  /** Time (ms) of the last fetch attempt, successful or not. */
  get lastAttemptAt(): number | undefined {
    return this.#lastAttemptAt;
  }

  /** Why the last attempt failed; undefined after a success. */
  get lastError(): JwksLastError | undefined {
    return this.#lastError;
  }

  /** The JWKS URL in use: configured, or discovered (undefined until discovery succeeded). */
  get jwksUri(): string | undefined {
    return this.#configuredUri ?? this.#discoveredUri;
  }

  get fetching(): boolean {
    return this.#inFlight !== undefined;
  }

  /** Fetches eagerly at boot. Never throws: false when the issuer could not be read (see lastError). */
  start(): Promise<boolean> {
    return this.refresh();
  }

  /** One fetch (joined when one is already in flight). Never throws. Ignores the cooldown: callers rate-limit. */
  refresh(): Promise<boolean> {
    if (this.#closing.signal.aborted) return Promise.resolve(false);
    this.#inFlight ??= this.#fetchOnce().finally(() => {
      this.#inFlight = undefined;
    });
    return this.#inFlight;
  }

  /** Resolves once no fetch is in flight (tests, shutdown). */
  async whenIdle(): Promise<void> {
    while (this.#inFlight) await this.#inFlight;
  }

  /** Aborts an in-flight fetch and refuses new ones; keys already held stay usable. */
  close(): void {
    this.#closing.abort();
  }

  /**
   * The key verifying a token with header `alg` / `kid`. A miss triggers one
   * refetch when the cooldown allows it (or waits for the fetch in flight);
   * a hit on a stale set starts a background refresh and answers at once.
   */
  async getKey(alg: string, kid: string | undefined): Promise<KeyLookup> {
    const first = this.keyNow(alg, kid);
    if (first) return first;
    if (this.#inFlight) await this.#inFlight;
    else if (this.#mayFetch()) await this.refresh();
    const second = this.#keys?.lookup(alg, kid);
    if (second === undefined) return UNAVAILABLE;
    if (second.kind === 'key') return second;
    return second.kind === 'ambiguous' ? AMBIGUOUS : UNKNOWN_KID;
  }

  /**
   * getKey without waiting: the answer when the keys held give one (a key —
   * starting a background refresh when the set is stale — or an ambiguous
   * match); undefined when only a fetch could tell (getKey then waits for it).
   * Lets a token whose key is known be verified in this turn's batch
   * (verification-batch.ts) without waiting for a fetch first.
   */
  keyNow(alg: string, kid: string | undefined): KeyLookup | undefined {
    const first = this.#keys?.lookup(alg, kid);
    if (first?.kind === 'key') {
      if (this.#isStale() && this.#mayFetch()) void this.refresh();
      return first;
    }
    return first?.kind === 'ambiguous' ? AMBIGUOUS : undefined;
  }

  #isStale(): boolean {
    return this.#lastFetchAt === undefined || this.#now() - this.#lastFetchAt >= this.#maxAgeMs;
  }

  #mayFetch(): boolean {
    if (this.#closing.signal.aborted) return false;
    return this.#lastAttemptAt === undefined || this.#now() - this.#lastAttemptAt >= this.#cooldownMs;
  }

  async #fetchOnce(): Promise<boolean> {
    this.#lastAttemptAt = this.#now();
    try {
      const jwksUri = this.#configuredUri ?? this.#discoveredUri ?? await discoverJwksUri(this.issuer, this.#limits);
      if (!this.#configuredUri) this.#discoveredUri = jwksUri;
      let members: readonly unknown[];
      try {
        members = await fetchJwksKeys(jwksUri, this.#limits);
      } catch (err) {
        // The discovered URL may have moved: discover again on the next attempt.
        this.#discoveredUri = undefined;
        throw err;
      }
      const keys = await importVerificationKeys(members, this.#algorithms);
      this.#keys = keys;
      this.#lastFetchAt = this.#now();
      this.#lastError = undefined;
      jwksFetchTotal.labels(this.issuer, 'ok').inc();
      jwksKeys.labels(this.issuer).set(keys.size);
      return true;
    } catch (err) {
      const failure = err instanceof JwksFetchError
        ? err
        : new JwksFetchError('error', `${this.issuer}: JWKS refresh failed`, { cause: err });
      this.#lastError = Object.freeze({ code: failure.code, result: failure.result, message: failure.message });
      jwksFetchTotal.labels(this.issuer, failure.result).inc();
      return false;
    }
  }
}
