/**
 * Synchronous verification of a compact JWS / JWT on the event loop, without
 * WebCrypto's hop to libuv's thread pool.
 *
 * jose 6 verifies with `crypto.subtle.verify`, which Node runs on the thread
 * pool: a promise, a job queued, a thread woken, the result posted back —
 * several times the cost of the RSA arithmetic itself (bench/README.md,
 * "first verification"). Here the same checks run in the same order as jose's
 * `jwtVerify` (jose 6.2, lib/jws_verify.js and jwt/verify.js), and the
 * signature is checked with `crypto.verify` on a `KeyObject` made from the
 * very CryptoKey jose imported (`KeyObject.from`), so key import, JWK member
 * checks and the RSA ≥ 2048-bit rule stay jose's. The claim checks stay
 * jose's too: the verified payload goes through `UnsecuredJWT.decode`, which
 * runs jose's validateClaimsSet with the options `jwtVerify` would get. (A
 * copy of those checks on the payload parsed once would save ~5 µs per new
 * token; jose keeps owning JWT semantics instead — the and DESIGN's
 * rule — and the cached path never comes here.)
 *
 * Where this is stricter than jose: a segment must be base64url without
 * padding or whitespace (`[A-Za-z0-9_-]`, length mod 4 ≠ 1). jose decodes with
 * `atob`, which also takes `=` padding and skips spaces; a token carrying those
 * is refused here as malformed. Everywhere else the verdict — accepted with
 * the same header and claims, or refused with the same jose error code (and
 * claim) — is jose's; test/authn-bearer/jws-verify-equivalence.test.ts checks
 * it over generated keys, tokens and mutations.
 *
 * Failures are returned, never thrown: `{ ok: false, error }` where `error`
 * has the `code` (and `claim`) jose's error would have, so
 * failureFromJoseError maps both paths alike.
 */
import { isUtf8 } from 'node:buffer';
import { KeyObject, constants, verify as cryptoVerify } from 'node:crypto';
import { UnsecuredJWT, type CryptoKey, type JWTPayload } from 'jose';

/** The part of jose's error we branch on: its code, and for claim failures the claim. */
export interface JwsFailure {
  /** jose's error code (`ERR_JWS_INVALID`, …); undefined where jose throws a plain TypeError (a key that does not fit the alg). */
  readonly code: string | undefined;
  readonly claim?: string;
}

export type JwtVerifyResult =
  | { readonly ok: true; readonly header: Readonly<Record<string, unknown>>; readonly payload: JWTPayload }
  | { readonly ok: false; readonly error: JwsFailure };

/** How one algorithm is verified with `crypto.verify`. */
interface AlgorithmPlan {
  /** Same value for algorithms jose treats as one WebCrypto algorithm (EdDSA and Ed25519). */
  readonly family: string;
  readonly kty: string;
  readonly hash: string | null;
  readonly padding?: number;
  readonly saltLength?: number;
  /** ECDSA: the exact IEEE P1363 signature length (r ‖ s). */
  readonly ecSignatureLength?: number;
}

const rsa = (bits: number): AlgorithmPlan => ({ family: `RS${bits}`, kty: 'rsa', hash: `sha${bits}`, padding: constants.RSA_PKCS1_PADDING });
const pss = (bits: number): AlgorithmPlan => ({
  family: `PS${bits}`, kty: 'rsa', hash: `sha${bits}`, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: bits / 8,
});
const ecdsa = (bits: number, fieldBytes: number): AlgorithmPlan => ({
  family: `ES${bits}`, kty: 'ec', hash: `sha${bits}`, ecSignatureLength: 2 * fieldBytes,
});
const eddsa: AlgorithmPlan = { family: 'Ed25519', kty: 'ed25519', hash: null };

/** The asymmetric algorithms jose 6 verifies (HS*, `none` and ML-DSA are not handled here). */
const PLANS: ReadonlyMap<string, AlgorithmPlan> = new Map([
  ['RS256', rsa(256)], ['RS384', rsa(384)], ['RS512', rsa(512)],
  ['PS256', pss(256)], ['PS384', pss(384)], ['PS512', pss(512)],
  ['ES256', ecdsa(256, 32)], ['ES384', ecdsa(384, 48)], ['ES512', ecdsa(512, 66)],
  ['EdDSA', eddsa], ['Ed25519', eddsa],
]);

/** Algorithms jose knows but that never verify with a public key (its JOSENotSupported vs a key-type TypeError). */
const JOSE_KNOWN = new Set(['HS256', 'HS384', 'HS512', 'ML-DSA-44', 'ML-DSA-65', 'ML-DSA-87', ...PLANS.keys()]);

/** A public key ready for `crypto.verify`, bound to the one algorithm jose imported it for. */
export interface JwsVerificationKey {
  readonly alg: string;
  readonly keyObject: KeyObject;
  readonly plan: AlgorithmPlan;
  /** The option object crypto.verify takes, built once. */
  readonly verifyKey: KeyObject | { key: KeyObject; padding?: number; saltLength?: number; dsaEncoding?: 'ieee-p1363' };
}

/**
 * The fast-path twin of a CryptoKey jose imported for `alg` (importJWK): the
 * same key material as a KeyObject. Undefined when the alg is not one handled
 * here or the key does not fit it (the caller then keeps jose alone).
 */
export function jwsVerificationKey(cryptoKey: CryptoKey, alg: string): JwsVerificationKey | undefined {
  const plan = PLANS.get(alg);
  if (!plan) return undefined;
  let keyObject: KeyObject;
  try {
    keyObject = KeyObject.from(cryptoKey as unknown as Parameters<typeof KeyObject.from>[0]);
  } catch {
    return undefined;
  }
  if (keyObject.type !== 'public' || keyObject.asymmetricKeyType !== plan.kty) return undefined;
  // jose's checkModulusLength (importVerificationKeys drops such keys already).
  if (plan.kty === 'rsa' && !((keyObject.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048)) return undefined;
  const verifyKey = plan.kty === 'rsa'
    ? { key: keyObject, padding: plan.padding, ...(plan.saltLength !== undefined ? { saltLength: plan.saltLength } : {}) }
    : plan.kty === 'ec' ? { key: keyObject, dsaEncoding: 'ieee-p1363' as const } : keyObject;
  return Object.freeze({ alg, keyObject, plan, verifyKey });
}

const fail = (code: string | undefined, claim?: string): { ok: false; error: JwsFailure } =>
  ({ ok: false, error: claim === undefined ? { code } : { code, claim } });

const JWS_INVALID = fail('ERR_JWS_INVALID');
const JWT_INVALID = fail('ERR_JWT_INVALID');
const NOT_SUPPORTED = fail('ERR_JOSE_NOT_SUPPORTED');
const ALG_NOT_ALLOWED = fail('ERR_JOSE_ALG_NOT_ALLOWED');
const BAD_SIGNATURE = fail('ERR_JWS_SIGNATURE_VERIFICATION_FAILED');
/** jose's checkCryptoKey TypeError: a key imported for another algorithm. */
const KEY_MISMATCH = fail(undefined);

/** Base64url without padding: the only segment text accepted (see the module comment). */
const BASE64URL = /^[A-Za-z0-9_-]*$/;
function isBase64url(segment: string): boolean {
  return segment.length % 4 !== 1 && BASE64URL.test(segment);
}

/** A JSON object from base64url bytes, with jose's rules: strict UTF-8, a plain object. */
function jsonObject(bytes: Buffer): Record<string, unknown> | undefined {
  if (!isUtf8(bytes)) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? value as Record<string, unknown> : undefined;
}

/** jose's validateCrit for a compact JWS (recognised: `b64` only): the code it would throw, or the extensions. */
function critProblem(header: Record<string, unknown>): string | readonly string[] {
  const crit = header.crit;
  if (crit === undefined) return [];
  if (!Array.isArray(crit) || crit.length === 0 || crit.some((p) => typeof p !== 'string' || p.length === 0)) return 'ERR_JWS_INVALID';
  for (const parameter of crit as string[]) {
    if (parameter !== 'b64') return 'ERR_JOSE_NOT_SUPPORTED';
    if (!Object.hasOwn(header, parameter) || header[parameter] === undefined) return 'ERR_JWS_INVALID';
  }
  return crit as string[];
}

const NON_ASCII = /[^\x00-\x7f]/;

/** The `jwtVerify` options this module honours, with jose's meaning. */
export interface FastJwtVerifyOptions {
  /** The alg allow-list, as jose's `algorithms` option (a Set, built once by the caller). */
  readonly algorithms: ReadonlySet<string>;
  readonly issuer: string;
  /** At least one must be in the token's `aud`. */
  readonly audience: readonly string[];
  /** Seconds, ≥ 0. */
  readonly clockTolerance: number;
  readonly currentDate: Date;
  /** Claims that must be present (jose: `requiredClaims`). */
  readonly requiredClaims: readonly string[];
}

/**
 * What the caller already read from this very token (bearer-jwt.ts reads it to
 * pick the issuer): the header JSON object decoded from its first segment
 * with Buffer's base64url decoder, valid UTF-8. Saves decoding it again; the
 * segment's text is still checked here.
 */
export interface PreRead {
  readonly header: Readonly<Record<string, unknown>>;
}

/** `{"alg":"none"}`: the header of the unsecured JWT that hands a verified payload to jose's claim checks. */
const UNSECURED_HEADER = Buffer.from('{"alg":"none"}').toString('base64url');

/** jose's claim-set checks (validateClaimsSet via UnsecuredJWT.decode) on a payload whose signature verified. */
function joseClaims(header: Readonly<Record<string, unknown>>, payloadSegment: string, options: FastJwtVerifyOptions): JwtVerifyResult {
  try {
    const { payload } = UnsecuredJWT.decode(`${UNSECURED_HEADER}.${payloadSegment}.`, {
      issuer: options.issuer,
      audience: [...options.audience],
      clockTolerance: options.clockTolerance,
      currentDate: options.currentDate,
      requiredClaims: [...options.requiredClaims],
    });
    return { ok: true, header, payload };
  } catch (err) {
    const { code, claim } = err as { code?: unknown; claim?: unknown };
    return fail(typeof code === 'string' ? code : undefined, typeof claim === 'string' ? claim : undefined);
  }
}

/** jose's `jwtVerify(token, key, options)`, synchronously. */
export function verifyJwtSync(token: string, key: JwsVerificationKey, options: FastJwtVerifyOptions, preRead?: PreRead): JwtVerifyResult {
  if (!(Number.isFinite(options.clockTolerance) && options.clockTolerance >= 0)) throw new TypeError('Invalid clockTolerance option input');
  const headerEnd = token.indexOf('.');
  const payloadEnd = headerEnd < 0 ? -1 : token.indexOf('.', headerEnd + 1);
  if (payloadEnd < 0 || token.indexOf('.', payloadEnd + 1) >= 0) return JWS_INVALID;
  const headerSegment = token.slice(0, headerEnd);
  const payloadSegment = token.slice(headerEnd + 1, payloadEnd);
  const signatureSegment = token.slice(payloadEnd + 1);

  // Protected header: base64url → strict UTF-8 → a JSON object (jose: parseJoseHeader).
  if (!isBase64url(headerSegment)) return JWS_INVALID;
  const header = preRead?.header ?? jsonObject(Buffer.from(headerSegment, 'base64url'));
  if (!header) return JWS_INVALID;
  const extensions = critProblem(header);
  if (typeof extensions === 'string') return fail(extensions);
  let b64 = true;
  if (extensions.includes('b64')) {
    if (typeof header.b64 !== 'boolean') return JWS_INVALID;
    b64 = header.b64;
  }
  const alg = header.alg;
  if (typeof alg !== 'string' || alg === '') return JWS_INVALID;
  if (!options.algorithms.has(alg)) return ALG_NOT_ALLOWED;
  // With b64 false the payload is signed as it stands and must be ASCII (jose: encodeCompactUnencodedPayload).
  if (!b64 && NON_ASCII.test(payloadSegment)) return JWS_INVALID;
  if (!JOSE_KNOWN.has(alg)) return NOT_SUPPORTED;
  // The signing input is the two segments as they stand; jose refuses non-ASCII text in them.
  if (b64 && NON_ASCII.test(payloadSegment)) return JWS_INVALID;
  if (!isBase64url(signatureSegment)) return JWS_INVALID;
  // jose's checkCryptoKey: the key must have been imported for this algorithm (HS*/ML-DSA never fit a key here).
  const plan = PLANS.get(alg);
  if (!plan || plan.family !== key.plan.family) return KEY_MISMATCH;

  const signature = Buffer.from(signatureSegment, 'base64url');
  let verified = false;
  if (plan.ecSignatureLength === undefined || signature.length === plan.ecSignatureLength) {
    try {
      verified = cryptoVerify(plan.hash, Buffer.from(token.slice(0, payloadEnd), 'latin1'), key.verifyKey, signature);
    } catch {
      verified = false;
    }
  }
  if (!verified) return BAD_SIGNATURE;

  // Verified. jose then decodes the payload (a JWSInvalid if it is not base64url) and refuses b64: false for a JWT.
  if (!b64) return JWT_INVALID;
  if (!isBase64url(payloadSegment)) return JWS_INVALID;
  return joseClaims(header, payloadSegment, options);
}
