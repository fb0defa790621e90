/**
 * Slow salted password hashes for local (Basic-auth) users: scrypt from
 * node:crypto, run on the libuv thread pool so the event loop never blocks.
 *
 * Encoding: `scrypt$<N>$<r>$<p>$<salt b64url>$<hash b64url>`. The parameters
 * travel with each hash so they can be raised later without invalidating the
 * hashes already stored: verification always uses the stored ones.
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/** Cost parameters for new hashes (~50–100 ms, 32 MiB per hash on a current CPU). */
export const SCRYPT_PARAMS = Object.freeze({ N: 2 ** 15, r: 8, p: 1 });
const SALT_BYTES = 16;
const KEY_BYTES = 32;

/** Longer passwords are refused before hashing: scrypt's cost must not depend on attacker-sized input. */
export const MAX_PASSWORD_BYTES = 1024;

/**
 * Bounds on parameters read back from storage. A tampered or corrupted users
 * file must not be able to make one verification take minutes or gigabytes.
 */
const LIMITS = Object.freeze({
  minLog2N: 10, maxLog2N: 20,
  maxR: 32, maxP: 16,
  minSaltBytes: 8, maxSaltBytes: 64,
  minKeyBytes: 16, maxKeyBytes: 64,
  maxMemoryBytes: 256 * 1024 * 1024,
});

/** Thrown by hashPassword for a password outside the accepted length (a caller bug: callers check first). */
export class PasswordLengthError extends RangeError {
  readonly code = 'ERR_PASSWORD_LENGTH';
  constructor() {
    super(`password must be 1 to ${MAX_PASSWORD_BYTES} bytes long`);
    this.name = 'PasswordLengthError';
  }
}

interface ScryptHash {
  readonly N: number;
  readonly r: number;
  readonly p: number;
  readonly salt: Buffer;
  readonly hash: Buffer;
}

function encode(h: ScryptHash): string {
  return `scrypt$${h.N}$${h.r}$${h.p}$${h.salt.toString('base64url')}$${h.hash.toString('base64url')}`;
}

const B64URL = /^[A-Za-z0-9_-]+$/;
const DECIMAL = /^[1-9][0-9]{0,9}$/;

/** Parses a stored encoding; undefined for anything malformed or outside LIMITS. */
function decode(encoded: string): ScryptHash | undefined {
  if (typeof encoded !== 'string' || encoded.length > 512) return undefined;
  const parts = encoded.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return undefined;
  const [, nText, rText, pText, saltText, hashText] = parts as [string, string, string, string, string, string];
  if (!DECIMAL.test(nText) || !DECIMAL.test(rText) || !DECIMAL.test(pText)) return undefined;
  if (!B64URL.test(saltText) || !B64URL.test(hashText)) return undefined;
  const N = Number(nText);
  const r = Number(rText);
  const p = Number(pText);
  const log2N = Math.log2(N);
  if (!Number.isInteger(log2N) || log2N < LIMITS.minLog2N || log2N > LIMITS.maxLog2N) return undefined;
  if (r > LIMITS.maxR || p > LIMITS.maxP) return undefined;
  if (memoryFor(N, r) > LIMITS.maxMemoryBytes) return undefined;
  const salt = Buffer.from(saltText, 'base64url');
  const hash = Buffer.from(hashText, 'base64url');
  // Round-trip check: rejects non-canonical base64url (e.g. stray trailing bits).
  if (salt.toString('base64url') !== saltText || hash.toString('base64url') !== hashText) return undefined;
  if (salt.length < LIMITS.minSaltBytes || salt.length > LIMITS.maxSaltBytes) return undefined;
  if (hash.length < LIMITS.minKeyBytes || hash.length > LIMITS.maxKeyBytes) return undefined;
  return { N, r, p, salt, hash };
}

/** scrypt needs about 128·N·r bytes; Node refuses above `maxmem`, so it is raised with headroom. */
function memoryFor(N: number, r: number): number {
  return 128 * N * r;
}

function derive(password: Buffer, salt: Buffer, keyLength: number, N: number, r: number, p: number): Promise<Buffer> {
  const options: ScryptOptions = { N, r, p, maxmem: memoryFor(N, r) * 2 };
  return new Promise((resolve, reject) => {
    scrypt(password, salt, keyLength, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** True when the password's UTF-8 form is within the bytes we are willing to hash. */
export function passwordWithinLimit(password: string): boolean {
  return password.length > 0 && Buffer.byteLength(password, 'utf8') <= MAX_PASSWORD_BYTES;
}

/** Hashes a new password with a fresh random salt and the current SCRYPT_PARAMS. */
export async function hashPassword(password: string): Promise<string> {
  if (typeof password !== 'string' || !passwordWithinLimit(password)) throw new PasswordLengthError();
  const { N, r, p } = SCRYPT_PARAMS;
  const salt = randomBytes(SALT_BYTES);
  const hash = await derive(Buffer.from(password, 'utf8'), salt, KEY_BYTES, N, r, p);
  return encode({ N, r, p, salt, hash });
}

/**
 * Checks a password against a stored encoding. Never throws for bad stored
 * data or bad input: a malformed encoding, an over-long password or an scrypt
 * failure is simply "does not match" (and logs nothing, so nothing leaks).
 */
export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  if (typeof password !== 'string' || !passwordWithinLimit(password)) return false;
  const stored = decode(encoded);
  if (!stored) return false;
  let candidate: Buffer;
  try {
    candidate = await derive(Buffer.from(password, 'utf8'), stored.salt, stored.hash.length, stored.N, stored.r, stored.p);
  } catch {
    return false;
  }
  // Same length by construction (derived to the stored key's length), so timingSafeEqual cannot throw.
  return timingSafeEqual(candidate, stored.hash);
}

/** True when the encoding parses (used to validate users files up front). */
export function isWellFormedHash(encoded: string): boolean {
  return decode(encoded) !== undefined;
}

/**
 * A well-formed hash of nothing anyone knows (random salt and key, made once
 * per process). Verifying an unknown user's password against it costs the same
 * scrypt as a real user's, so response time does not tell who exists.
 */
export const DUMMY_HASH: string = encode({
  ...SCRYPT_PARAMS,
  salt: randomBytes(SALT_BYTES),
  hash: randomBytes(KEY_BYTES),
});
