/**
 * authz.identity-token of one config snapshot → the keys installed in the
 * process's ring and the token signer the serving engine uses. Keys come
 * from `key-file` (re-read at every reload) or are generated once and kept
 * across reloads while the algorithm stays the same.
 */
import type { Config } from '../config/types.js';
import { IdentityTokens } from './identity-tokens.js';
import type { IdentityKeyRing } from './key-ring.js';
import { generateSigningKeys, readSigningKeys, SigningKeyError } from './signing-keys.js';

/** Tokens kept at most (identity × audience × rule × tenant); each is ~0.6 KB. */
const MIN_TOKEN_CACHE = 1_000;

/**
 * Installs the keys of `config`'s identity token in `ring`: false when the
 * token is off (the ring keeps what it holds, to publish again once it is
 * back on). Throws SigningKeyError for a key file that cannot be used.
 * Shared by every process that publishes the JWKS: a serving process and a
 * `serve --workers N` primary (group-identity-keys.ts).
 */
export function installIdentityKeys(config: Config, ring: IdentityKeyRing): boolean {
  const c = config.identityToken;
  if (!c.enabled) return false;
  if (config.externalUrl === undefined) throw new SigningKeyError('authz.identity-token needs authz.external-url (the token\'s iss)');
  const generated = ring.generated;
  const keys = c.keyFile !== undefined
    ? readSigningKeys(c.keyFile, c.algorithm)
    : generated !== undefined && generated.active.alg === c.algorithm ? generated : generateSigningKeys(c.algorithm);
  ring.install(keys, c.ttlSeconds * 1000);
  return true;
}

/** Undefined when the token is off. Throws SigningKeyError for a key file that cannot be used (a reload is then rejected). */
export function identityTokensFor(config: Config, ring: IdentityKeyRing, now?: () => number): IdentityTokens | undefined {
  if (!installIdentityKeys(config, ring)) return undefined;
  const c = config.identityToken;
  return new IdentityTokens(ring, {
    issuer: config.externalUrl!,
    ttlSeconds: c.ttlSeconds,
    ...(c.audience === undefined ? {} : { audience: c.audience }),
    cacheSize: Math.max(MIN_TOKEN_CACHE, config.tokenCacheSize),
    ...(now === undefined ? {} : { now }),
  });
}
