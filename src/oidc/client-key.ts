/**
 * The private key signing a `private_key_jwt` client assertion (RFC 7523),
 * read from `authz.oidc.clients.<name>.private-key-file`: PEM (PKCS#8,
 * PKCS#1 RSA or SEC1 EC) or JSON (one private JWK, or a JWK set from which
 * the `private-key-id` entry — or the only private one — is taken).
 *
 * The signing algorithm follows the key: RSA → RS256, EC → ES256/384/512 by
 * curve, Ed25519 → EdDSA. Problems name the file, never its content.
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { importJWK, importPKCS8, type CryptoKey, type JWK } from 'jose';
import { AuthzError } from '../core/errors.js';

export interface ClientSigningKey {
  readonly key: CryptoKey;
  readonly kid?: string;
  readonly alg: string;
}

export class ClientKeyError extends AuthzError {
  constructor(message: string) {
    super('ERR_CONFIG_READ', message);
    this.name = 'ClientKeyError';
  }
}

export async function loadClientKey(file: string, keyId?: string): Promise<ClientSigningKey> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ClientKeyError(`private-key-file ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const trimmed = text.trim();
  return trimmed.startsWith('{') ? fromJwk(trimmed, file, keyId) : fromPem(trimmed, file, keyId);
}

async function fromPem(pem: string, file: string, keyId?: string): Promise<ClientSigningKey> {
  let keyObject: KeyObject;
  try {
    keyObject = createPrivateKey({ key: pem, format: 'pem' });
  } catch {
    throw new ClientKeyError(`private-key-file ${file} holds no PEM private key`);
  }
  const alg = algorithmOf(keyObject.asymmetricKeyType, keyObject.asymmetricKeyDetails?.namedCurve, file);
  const pkcs8 = keyObject.export({ format: 'pem', type: 'pkcs8' }).toString();
  const key = (await importPKCS8(pkcs8, alg)) as CryptoKey;
  return keyId === undefined ? { key, alg } : { key, kid: keyId, alg };
}

async function fromJwk(json: string, file: string, keyId?: string): Promise<ClientSigningKey> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw new ClientKeyError(`private-key-file ${file} is neither PEM nor JSON`);
  }
  const keys: JWK[] = isObject(parsed) && Array.isArray(parsed.keys) ? (parsed.keys as JWK[]).filter(isObject) : isObject(parsed) ? [parsed as JWK] : [];
  const privateKeys = keys.filter((k) => typeof k.d === 'string');
  const jwk = keyId !== undefined ? privateKeys.find((k) => k.kid === keyId) : privateKeys.length === 1 ? privateKeys[0] : undefined;
  if (!jwk) {
    throw new ClientKeyError(keyId !== undefined
      ? `private-key-file ${file} has no private JWK with kid "${keyId}"`
      : `private-key-file ${file} must hold exactly one private JWK (or set private-key-id)`);
  }
  const alg = jwk.alg ?? algorithmOf(jwk.kty === 'RSA' ? 'rsa' : jwk.kty === 'EC' ? 'ec' : jwk.kty === 'OKP' && jwk.crv === 'Ed25519' ? 'ed25519' : jwk.kty, curveName(jwk.crv), file);
  let key: CryptoKey;
  try {
    key = (await importJWK(jwk, alg)) as CryptoKey;
  } catch {
    throw new ClientKeyError(`private-key-file ${file}: the JWK cannot be used for ${alg}`);
  }
  const kid = keyId ?? jwk.kid;
  return kid === undefined ? { key, alg } : { key, kid, alg };
}

function curveName(crv: string | undefined): string | undefined {
  return crv === 'P-256' ? 'prime256v1' : crv === 'P-384' ? 'secp384r1' : crv === 'P-521' ? 'secp521r1' : crv;
}

function algorithmOf(type: string | undefined, curve: string | undefined, file: string): string {
  if (type === 'rsa') return 'RS256';
  if (type === 'ed25519') return 'EdDSA';
  if (type === 'ec') {
    if (curve === 'prime256v1') return 'ES256';
    if (curve === 'secp384r1') return 'ES384';
    if (curve === 'secp521r1') return 'ES512';
  }
  throw new ClientKeyError(`private-key-file ${file}: unsupported key type (use RSA, EC P-256/384/521 or Ed25519)`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
