/**
 * A JWKS turned into verification keys, imported once when the set is
 * fetched so the request path only does a map lookup.
 *
 * What is kept: public signature keys whose type fits one of the issuer's
 * allowed (asymmetric) algorithms. Skipped: `use: enc`, `key_ops` without
 * `verify`, symmetric (`oct`) and private keys, a declared `alg` outside the
 * allow-list, RSA keys under 2048 bits, anything jose refuses to import.
 * A bad member never spoils the rest of the set.
 */
import { importJWK, type CryptoKey, type JWK } from 'jose';
import { jwsVerificationKey, type JwsVerificationKey } from './jws-verify.js';

/** Members looked at in one JWKS; real sets hold a handful. */
export const MAX_JWKS_MEMBERS = 100;
const MIN_RSA_BITS = 2048;

/** Key type (and curve) each asymmetric JWS algorithm verifies with. */
const KEY_TYPE_OF_ALG: Readonly<Record<string, { kty: string; crv?: string }>> = {
  RS256: { kty: 'RSA' }, RS384: { kty: 'RSA' }, RS512: { kty: 'RSA' },
  PS256: { kty: 'RSA' }, PS384: { kty: 'RSA' }, PS512: { kty: 'RSA' },
  ES256: { kty: 'EC', crv: 'P-256' }, ES384: { kty: 'EC', crv: 'P-384' }, ES512: { kty: 'EC', crv: 'P-521' },
  EdDSA: { kty: 'OKP', crv: 'Ed25519' }, Ed25519: { kty: 'OKP', crv: 'Ed25519' },
};

/**
 * The algorithms an issuer may allow: asymmetric JWS algorithms only, so a
 * public key can never be used as an HMAC secret (and `none` never passes).
 */
export const ASYMMETRIC_JWS_ALGORITHMS: ReadonlySet<string> = new Set(Object.keys(KEY_TYPE_OF_ALG));

/** Private-key members of RSA/EC/OKP/AKP JWKs: a JWKS entry carrying one is refused outright. */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'priv'] as const;

/** A key found for a token: jose's CryptoKey, and its KeyObject twin for the synchronous path (jws-verify.ts). */
export interface FoundKey {
  readonly kind: 'key';
  readonly key: CryptoKey;
  /** Undefined only for an algorithm jws-verify does not handle (then jose verifies). */
  readonly fast: JwsVerificationKey | undefined;
}

interface KeyEntry {
  readonly kid: string | undefined;
  /** One imported key per algorithm it may verify (an RSA key without `alg` may serve RS256 and PS256); built once, handed out as is. */
  readonly byAlg: ReadonlyMap<string, FoundKey>;
}

export type KeyMatch =
  | FoundKey
  /** No key fits (unknown kid, or no kid-less candidate). */
  | { readonly kind: 'none' }
  /** The token has no kid and several keys fit: picking one would be a guess. */
  | { readonly kind: 'ambiguous' };

const NONE: KeyMatch = Object.freeze({ kind: 'none' });
const AMBIGUOUS: KeyMatch = Object.freeze({ kind: 'ambiguous' });

export class VerificationKeys {
  readonly #entries: readonly KeyEntry[];
  readonly #byKid: ReadonlyMap<string, KeyEntry>;

  constructor(entries: readonly KeyEntry[]) {
    this.#entries = entries;
    const byKid = new Map<string, KeyEntry>();
    // First entry of a kid wins: a set repeating a kid is the issuer's mistake, not a reason to try several.
    for (const entry of entries) if (entry.kid !== undefined && !byKid.has(entry.kid)) byKid.set(entry.kid, entry);
    this.#byKid = byKid;
  }

  get size(): number {
    return this.#entries.length;
  }

  /** The key for a token header: by kid when the token names one, else the single key that fits the alg. */
  lookup(alg: string, kid: string | undefined): KeyMatch {
    if (kid !== undefined) {
      return this.#byKid.get(kid)?.byAlg.get(alg) ?? NONE;
    }
    let found: FoundKey | undefined;
    for (const entry of this.#entries) {
      const key = entry.byAlg.get(alg);
      if (!key) continue;
      if (found) return AMBIGUOUS;
      found = key;
    }
    return found ?? NONE;
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Algorithms (from the allow-list) this JWK may verify, before trying to import it. */
function usableAlgorithms(jwk: Record<string, unknown>, allowed: readonly string[]): string[] {
  if (typeof jwk.kty !== 'string' || jwk.kty === 'oct') return [];
  if (jwk.use !== undefined && jwk.use !== 'sig') return [];
  if (jwk.key_ops !== undefined && !(Array.isArray(jwk.key_ops) && jwk.key_ops.includes('verify'))) return [];
  if (PRIVATE_MEMBERS.some((member) => jwk[member] !== undefined)) return [];
  if (jwk.kid !== undefined && typeof jwk.kid !== 'string') return [];
  if (jwk.alg !== undefined) {
    if (typeof jwk.alg !== 'string' || !allowed.includes(jwk.alg)) return [];
    const fit = KEY_TYPE_OF_ALG[jwk.alg];
    if (!fit || fit.kty !== jwk.kty || (fit.crv !== undefined && fit.crv !== jwk.crv)) return [];
    return [jwk.alg];
  }
  return allowed.filter((alg) => {
    const fit = KEY_TYPE_OF_ALG[alg];
    return fit !== undefined && fit.kty === jwk.kty && (fit.crv === undefined || fit.crv === jwk.crv);
  });
}

async function importFor(jwk: Record<string, unknown>, alg: string): Promise<CryptoKey | undefined> {
  try {
    const key = await importJWK(jwk as JWK, alg);
    if (key instanceof Uint8Array || key.type !== 'public') return undefined;
    const bits = (key.algorithm as { modulusLength?: unknown }).modulusLength;
    if (typeof bits === 'number' && bits < MIN_RSA_BITS) return undefined;
    return key;
  } catch {
    return undefined; // a member jose cannot import is skipped, the rest of the set still counts
  }
}

/** Imports a JWKS `keys` array for an issuer's allow-list. Never throws on a bad member. */
export async function importVerificationKeys(members: readonly unknown[], allowed: readonly string[]): Promise<VerificationKeys> {
  const entries: KeyEntry[] = [];
  for (const member of members.slice(0, MAX_JWKS_MEMBERS)) {
    if (!isPlainObject(member)) continue;
    const algs = usableAlgorithms(member, allowed);
    if (algs.length === 0) continue;
    const byAlg = new Map<string, FoundKey>();
    for (const alg of algs) {
      const key = await importFor(member, alg);
      if (key) byAlg.set(alg, Object.freeze({ kind: 'key', key, fast: jwsVerificationKey(key, alg) }));
    }
    if (byAlg.size > 0) entries.push({ kid: member.kid as string | undefined, byAlg });
  }
  return new VerificationKeys(entries);
}
