/**
 * One JwksCache per configured bearer issuer, carried across config reloads:
 * an issuer whose key settings did not change keeps its cache (its keys,
 * cooldown and max-age state), so a reload neither re-fetches every JWKS nor
 * opens a window where known keys are missing.
 */
import type { BearerIssuerConfig, Config } from '../config/types.js';
import { JwksCache, type JwksCacheOptions } from './jwks-cache.js';

export function jwksCacheOptionsFor(
  issuer: BearerIssuerConfig,
  bearer: Config['bearer'],
  now?: () => number,
): JwksCacheOptions {
  return {
    issuer: issuer.issuer,
    jwksUri: issuer.jwksUri,
    algorithms: issuer.algorithms,
    maxAgeMs: bearer.jwksMaxAgeSeconds * 1000,
    cooldownMs: bearer.jwksCooldownSeconds * 1000,
    timeoutMs: bearer.jwksTimeoutMs,
    now,
  };
}

export interface JwksCacheSet {
  /** By issuer: what BearerAuthenticator takes as `jwksCaches`. */
  readonly caches: ReadonlyMap<string, JwksCache>;
  /** Caches made for this config (need `start()`). */
  readonly created: readonly JwksCache[];
  /** Caches of the previous config no longer used: `close()` them once the new engine serves. */
  readonly retired: readonly JwksCache[];
}

/** Builds the caches for `bearer`, reusing those of `previous` whose settings are identical. */
export function reuseJwksCaches(
  bearer: Config['bearer'],
  previous?: ReadonlyMap<string, JwksCache>,
  now?: () => number,
): JwksCacheSet {
  const caches = new Map<string, JwksCache>();
  const created: JwksCache[] = [];
  const kept = new Set<JwksCache>();
  for (const issuer of bearer.issuers) {
    const options = jwksCacheOptionsFor(issuer, bearer, now);
    const old = previous?.get(issuer.issuer);
    if (old && old.settingsKey === JwksCache.settingsKeyOf(options)) {
      caches.set(issuer.issuer, old);
      kept.add(old);
      continue;
    }
    const cache = new JwksCache(options);
    caches.set(issuer.issuer, cache);
    created.push(cache);
  }
  const retired = previous ? [...previous.values()].filter((cache) => !kept.has(cache)) : [];
  return { caches, created, retired };
}

/** Eager fetch of every cache at boot; resolves when all answered (or failed). Never throws. */
export async function startJwksCaches(caches: Iterable<JwksCache>): Promise<void> {
  await Promise.all([...caches].map((cache) => cache.start()));
}
