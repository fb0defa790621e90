/**
 * Verification of an OpenID Connect Back-Channel Logout 1.0 `logout_token`
 * (§2.4, §2.6): a JWT signed by the provider with a key of its JWKS, with
 * - `iss` = the provider's issuer, `aud` containing our client id;
 * - `iat` present and recent (at most MAX_AGE old, not in the future beyond
 *   the skew), `exp` honoured when present;
 * - `jti` present (replay is checked by the caller, which remembers it);
 * - `events` holding the back-channel logout event as a JSON object;
 * - `sid` and/or `sub`;
 * - NO `nonce` (so an ID token cannot be passed off as a logout token).
 * Failures are a LogoutTokenError whose `problem` is a bounded code for logs.
 */
import { decodeProtectedHeader, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import { JwksCache } from '../authn/jwks-cache.js';
import { ASYMMETRIC_JWS_ALGORITHMS } from '../authn/jwks-keys.js';
import { BACKCHANNEL_LOGOUT_EVENT } from '../authn/token-type.js';

// Defined beside the Bearer authenticator, which refuses tokens carrying it (token-type.ts): only this endpoint takes them.
export { BACKCHANNEL_LOGOUT_EVENT };
/** A logout token older than this (by `iat`) is refused; its `jti` is remembered this long when it has no `exp`. */
export const LOGOUT_TOKEN_MAX_AGE_SECONDS = 600;
const CLOCK_SKEW_SECONDS = 60;
const MAX_TOKEN_LENGTH = 16_384;

export type LogoutTokenProblem =
  | 'malformed'
  | 'keys_unavailable'
  | 'unknown_key'
  | 'bad_signature'
  | 'bad_claims'
  | 'expired'
  | 'too_old'
  | 'issued_in_future'
  | 'no_jti'
  | 'no_event'
  | 'no_subject'
  | 'has_nonce';

export class LogoutTokenError extends Error {
  readonly code = 'ERR_LOGOUT_TOKEN' as const;
  readonly problem: LogoutTokenProblem;
  constructor(problem: LogoutTokenProblem, message: string) {
    super(message);
    this.problem = problem;
    this.name = 'LogoutTokenError';
  }
}

export interface VerifiedLogoutToken {
  readonly jti: string;
  readonly sid?: string;
  readonly sub?: string;
  /** Until when the token could be replayed, epoch seconds (`exp`, else `iat` + max age). */
  readonly replayableUntil: number;
}

export interface LogoutTokenCheck {
  readonly issuer: string;
  readonly clientId: string;
  readonly keys: JwksCache;
  /** Clock, epoch ms. */
  readonly nowMs: number;
}

export async function verifyLogoutToken(token: string, check: LogoutTokenCheck): Promise<VerifiedLogoutToken> {
  if (token.length > MAX_TOKEN_LENGTH || token.split('.').length !== 3) throw new LogoutTokenError('malformed', 'not a signed JWT');
  let alg: string | undefined;
  let kid: string | undefined;
  try {
    ({ alg, kid } = decodeProtectedHeader(token));
  } catch {
    throw new LogoutTokenError('malformed', 'unreadable JWT header');
  }
  if (!alg || !ASYMMETRIC_JWS_ALGORITHMS.has(alg)) throw new LogoutTokenError('bad_signature', 'algorithm not allowed');
  const lookup = await check.keys.getKey(alg, kid);
  if (lookup.kind === 'unavailable') throw new LogoutTokenError('keys_unavailable', "the provider's keys cannot be fetched");
  if (lookup.kind !== 'key') throw new LogoutTokenError('unknown_key', 'no key of the provider fits the token');

  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, lookup.key, {
      algorithms: [alg],
      issuer: check.issuer,
      audience: check.clientId,
      currentDate: new Date(check.nowMs),
      clockTolerance: CLOCK_SKEW_SECONDS,
      maxTokenAge: LOGOUT_TOKEN_MAX_AGE_SECONDS,
      requiredClaims: ['iat'],
    }));
  } catch (err) {
    // jose (maxTokenAge) reports an `iat` too far in the past as JWTExpired, one in the future (beyond the skew) as a claim failure.
    if (err instanceof joseErrors.JWTExpired) {
      if (err.claim === 'iat') throw new LogoutTokenError('too_old', 'the logout token is too old');
      throw new LogoutTokenError('expired', 'the logout token has expired');
    }
    if (err instanceof joseErrors.JWSSignatureVerificationFailed) throw new LogoutTokenError('bad_signature', 'bad signature');
    if (err instanceof joseErrors.JWTClaimValidationFailed) {
      const problem = err.claim === 'iat' && err.reason === 'check_failed' ? 'issued_in_future' : 'bad_claims';
      throw new LogoutTokenError(problem, `claim ${err.claim} is not acceptable`);
    }
    throw new LogoutTokenError('malformed', 'the logout token cannot be verified');
  }

  if (payload.nonce !== undefined) throw new LogoutTokenError('has_nonce', 'a logout token must not carry a nonce');
  const events = payload.events;
  const event = events !== null && typeof events === 'object' && !Array.isArray(events)
    ? (events as Record<string, unknown>)[BACKCHANNEL_LOGOUT_EVENT]
    : undefined;
  if (event === null || typeof event !== 'object' || Array.isArray(event)) {
    throw new LogoutTokenError('no_event', 'events does not hold the back-channel logout event');
  }
  const jti = payload.jti;
  if (typeof jti !== 'string' || jti === '') throw new LogoutTokenError('no_jti', 'jti is missing');
  const sid = typeof payload.sid === 'string' && payload.sid !== '' ? payload.sid : undefined;
  const sub = typeof payload.sub === 'string' && payload.sub !== '' ? payload.sub : undefined;
  if (!sid && !sub) throw new LogoutTokenError('no_subject', 'neither sid nor sub');
  const iat = payload.iat!;
  return { jti, sid, sub, replayableUntil: typeof payload.exp === 'number' ? payload.exp : iat + LOGOUT_TOKEN_MAX_AGE_SECONDS };
}

/** One JWKS cache per provider key set, kept across config reloads (like the bearer issuers'). */
export class LogoutTokenKeys {
  readonly #caches = new Map<string, JwksCache>();

  for(issuer: string, jwksUri: string): JwksCache {
    const key = `${issuer} ${jwksUri}`;
    let cache = this.#caches.get(key);
    if (!cache) {
      cache = new JwksCache({
        issuer,
        jwksUri,
        algorithms: [...ASYMMETRIC_JWS_ALGORITHMS],
        maxAgeMs: 600_000,
        cooldownMs: 30_000,
        timeoutMs: 5000,
      });
      this.#caches.set(key, cache);
    }
    return cache;
  }

  close(): void {
    for (const cache of this.#caches.values()) cache.close();
  }
}
