/**
 * The keys that sign the identity token (identity-tokens.ts): read from a
 * file — PEM (one or more `PRIVATE KEY` blocks, then optional `PUBLIC KEY`
 * blocks) or a JWK set (`{"keys": [...]}`) — or generated at start.
 *
 * The first key of a file signs; the others are only published in the JWKS,
 * so a verifier keeps accepting tokens they signed while an operator rotates
 * (put the new key first, keep the old one after it until its tokens expired
 * — `ttl` — then drop it). Keys after the first may be public only.
 *
 * ES256 keys are EC P-256, RS256 keys RSA of at least 2048 bits; the
 * algorithm of each key follows from its type (a JWK's `alg`, when given,
 * must agree). `kid`: a JWK's own, else the RFC 7638 thumbprint, so the same
 * key has the same id on every replica. Errors name the file and the key's
 * position, never key material.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type JsonWebKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { importJWK, type CryptoKey, type JWK } from 'jose';

export const IDENTITY_TOKEN_ALGORITHMS = ['ES256', 'RS256'] as const;
export type IdentityTokenAlgorithm = (typeof IDENTITY_TOKEN_ALGORITHMS)[number];

const MIN_RSA_BITS = 2048;

export class SigningKeyError extends Error {
  readonly code = 'ERR_IDENTITY_KEY' as const;
  constructor(message: string) {
    super(message);
    this.name = 'SigningKeyError';
  }
}

/** One key of the ring: its public JWK (with kid, alg, use) and, for a key that may sign, the private key. */
export interface SigningKey {
  readonly kid: string;
  readonly alg: IdentityTokenAlgorithm;
  /** What the JWKS publishes: public members only, plus kid, alg and use. */
  readonly publicJwk: Readonly<JWK>;
  /** Can sign (a private key was given or generated). */
  readonly canSign: boolean;
  /** The WebCrypto signing key, imported once on first use; rejects for a public-only key. */
  cryptoKey(): Promise<CryptoKey>;
}

/** The keys of one source: the first signs, the rest are published. */
export interface KeySet {
  readonly active: SigningKey;
  readonly published: readonly SigningKey[];
  /** True when generated in this process (not shared with other replicas). */
  readonly generated: boolean;
}

/** RFC 7638: SHA-256 over the required members in lexicographic order, base64url. */
function thumbprint(jwk: JsonWebKey): string {
  const members = jwk.kty === 'EC' ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y } : { e: jwk.e, kty: jwk.kty, n: jwk.n };
  return createHash('sha256').update(JSON.stringify(members)).digest('base64url');
}

function algorithmOf(key: KeyObject, where: string): IdentityTokenAlgorithm {
  const details = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === 'ec') {
    if (details?.namedCurve !== 'prime256v1') throw new SigningKeyError(`${where}: an EC key must be on P-256 (ES256)`);
    return 'ES256';
  }
  if (key.asymmetricKeyType === 'rsa') {
    if ((details?.modulusLength ?? 0) < MIN_RSA_BITS) throw new SigningKeyError(`${where}: an RSA key must have at least ${MIN_RSA_BITS} bits (RS256)`);
    return 'RS256';
  }
  throw new SigningKeyError(`${where}: must be an EC P-256 (ES256) or RSA (RS256) key, not ${key.asymmetricKeyType ?? 'a symmetric key'}`);
}

function signingKey(publicKey: KeyObject, privateKey: KeyObject | undefined, where: string, kid?: string, declaredAlg?: unknown): SigningKey {
  const alg = algorithmOf(publicKey, where);
  if (declaredAlg !== undefined && declaredAlg !== alg) {
    throw new SigningKeyError(`${where}: "alg" is ${JSON.stringify(declaredAlg)} but the key is a ${alg} key`);
  }
  const pub = publicKey.export({ format: 'jwk' });
  const id = kid ?? thumbprint(pub);
  const members = pub.kty === 'EC' ? { kty: pub.kty, crv: pub.crv, x: pub.x, y: pub.y } : { kty: pub.kty, n: pub.n, e: pub.e };
  const publicJwk = Object.freeze({ ...members, kid: id, alg, use: 'sig' }) as JWK;
  let imported: Promise<CryptoKey> | undefined;
  return Object.freeze({
    kid: id,
    alg,
    publicJwk,
    canSign: privateKey !== undefined,
    cryptoKey(): Promise<CryptoKey> {
      if (!privateKey) return Promise.reject(new SigningKeyError(`key ${id} is public only and cannot sign`));
      imported ??= importJWK(privateKey.export({ format: 'jwk' }) as JWK, alg, { extractable: false }) as Promise<CryptoKey>;
      return imported;
    },
  });
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;

function keysFromPem(text: string, file: string): SigningKey[] {
  const keys: SigningKey[] = [];
  for (const match of text.matchAll(PEM_BLOCK)) {
    const label = match[1]!;
    const where = `${file}: PEM block ${keys.length + 1} (${label})`;
    try {
      if (/PRIVATE KEY$/.test(label)) {
        const privateKey = createPrivateKey(match[0]);
        keys.push(signingKey(createPublicKey(privateKey), privateKey, where));
      } else if (/PUBLIC KEY$/.test(label)) {
        keys.push(signingKey(createPublicKey(match[0]), undefined, where));
      } else {
        throw new SigningKeyError(`${where}: not a private or public key`);
      }
    } catch (err) {
      if (err instanceof SigningKeyError) throw err;
      throw new SigningKeyError(`${where}: not a readable key (${(err as NodeJS.ErrnoException).code ?? 'invalid'})`);
    }
  }
  return keys;
}

function keysFromJwkSet(text: string, file: string): SigningKey[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new SigningKeyError(`${file}: not valid JSON (a JWK set {"keys": [...]} or one JWK)`);
  }
  const list = typeof doc === 'object' && doc !== null && Array.isArray((doc as { keys?: unknown }).keys)
    ? (doc as { keys: unknown[] }).keys
    : [doc];
  return list.map((entry, i) => {
    const where = `${file}: key ${i}`;
    if (typeof entry !== 'object' || entry === null) throw new SigningKeyError(`${where}: not a JWK object`);
    const jwk = entry as Record<string, unknown>;
    if (jwk.kid !== undefined && (typeof jwk.kid !== 'string' || jwk.kid === '')) throw new SigningKeyError(`${where}: "kid" must be a non-empty string`);
    if (jwk.use !== undefined && jwk.use !== 'sig') throw new SigningKeyError(`${where}: "use" must be sig`);
    try {
      const isPrivate = jwk.d !== undefined;
      const keyObject = isPrivate ? createPrivateKey({ key: jwk as JsonWebKey, format: 'jwk' }) : createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
      const publicKey = isPrivate ? createPublicKey(keyObject) : keyObject;
      return signingKey(publicKey, isPrivate ? keyObject : undefined, where, jwk.kid as string | undefined, jwk.alg);
    } catch (err) {
      if (err instanceof SigningKeyError) throw err;
      throw new SigningKeyError(`${where}: not a usable EC or RSA JWK (${(err as NodeJS.ErrnoException).code ?? 'invalid'})`);
    }
  });
}

/** Parses a key file's text (PEM or JWK set). */
export function parseSigningKeys(text: string, file: string, algorithm: IdentityTokenAlgorithm): KeySet {
  const trimmed = text.trim();
  const keys = trimmed.startsWith('{') ? keysFromJwkSet(trimmed, file) : keysFromPem(trimmed, file);
  if (keys.length === 0) throw new SigningKeyError(`${file}: no key found (PEM private key, or a JWK set {"keys": [...]})`);
  const active = keys[0]!;
  if (!active.canSign) throw new SigningKeyError(`${file}: the first key signs, so it must be a private key`);
  if (active.alg !== algorithm) {
    throw new SigningKeyError(`${file}: the first key is a ${active.alg} key but authz.identity-token.algorithm is ${algorithm}`);
  }
  const seen = new Set<string>();
  for (const key of keys) {
    if (seen.has(key.kid)) throw new SigningKeyError(`${file}: two keys have the kid ${JSON.stringify(key.kid)}`);
    seen.add(key.kid);
  }
  return Object.freeze({ active, published: Object.freeze(keys.slice(1)), generated: false });
}

/** Reads and parses a key file; a missing or unreadable file is a SigningKeyError naming it. */
export function readSigningKeys(file: string, algorithm: IdentityTokenAlgorithm): KeySet {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new SigningKeyError(`${file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  return parseSigningKeys(text, file, algorithm);
}

/** A fresh key pair, held in memory only: this process's tokens, this process's JWKS. */
export function generateSigningKeys(algorithm: IdentityTokenAlgorithm): KeySet {
  const pair = algorithm === 'ES256'
    ? generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
    : generateKeyPairSync('rsa', { modulusLength: MIN_RSA_BITS });
  return Object.freeze({ active: signingKey(pair.publicKey, pair.privateKey, 'generated key'), published: Object.freeze([]), generated: true });
}
