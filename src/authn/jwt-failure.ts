/**
 * Bearer failures: jose's error codes → our reason codes, with fixed,
 * secret-free descriptions (they end up in WWW-Authenticate and JSON bodies).
 * Branches on `err.code` only, never on jose's message text.
 */
import type { AuthnFailureReason } from '../core/reasons.js';
import type { CachedFailure } from './token-cache.js';
import type { TokenTypeProblem } from './token-type.js';

export function bearerFailure(reason: AuthnFailureReason, description: string): CachedFailure {
  return Object.freeze({ kind: 'fail', reason, description, scheme: 'Bearer' });
}

/** Claim names jose may report; only these are echoed in a description. */
const NAMEABLE_CLAIMS = new Set(['exp', 'sub', 'iat', 'nbf', 'typ', 'jti', 'aud', 'iss']);

interface JoseErrorShape {
  readonly code?: unknown;
  readonly claim?: unknown;
}

function codeOf(err: unknown): string | undefined {
  if (err === null || typeof err !== 'object') return undefined;
  const code = (err as JoseErrorShape).code;
  return typeof code === 'string' ? code : undefined;
}

function claimOf(err: unknown): string | undefined {
  const claim = (err as JoseErrorShape).claim;
  return typeof claim === 'string' ? claim : undefined;
}

const EXPIRED = bearerFailure('token_expired', 'token expired');
const NOT_YET_VALID = bearerFailure('token_not_yet_valid', 'token not yet valid');
const BAD_AUDIENCE = bearerFailure('token_bad_audience', 'token audience is not accepted');
export const UNTRUSTED_ISSUER = bearerFailure('token_untrusted_issuer', 'token issuer is not trusted');
const BAD_SIGNATURE = bearerFailure('token_bad_signature', 'token signature does not verify');
export const ALG_NOT_ALLOWED = bearerFailure('token_alg_not_allowed', 'token algorithm is not allowed');
export const MALFORMED = bearerFailure('token_malformed', 'token is not a well-formed signed JWT');
const INVALID = bearerFailure('token_invalid', 'token is not valid');
/** `iat` later than now + clock skew (jose checks only that it is a number). */
export const ISSUED_IN_FUTURE = bearerFailure('token_not_yet_valid', 'token was issued in the future (iat)');

const TYPE_FAILURES: Readonly<Record<TokenTypeProblem, CachedFailure>> = {
  typ_unreadable: bearerFailure('token_type_not_allowed', 'token typ header is not a string'),
  event_token: bearerFailure('token_type_not_allowed', 'a logout or security event token is not an access token'),
  typ_not_required: bearerFailure('token_type_not_allowed', "token typ is not one of the issuer's token-types"),
  id_token: bearerFailure('token_type_not_allowed', 'an ID token is not accepted as a Bearer token from this issuer'),
};

/** A verified token of a type the issuer's settings do not accept as a Bearer token (token-type.ts). */
export function typeFailure(problem: TokenTypeProblem): CachedFailure {
  return TYPE_FAILURES[problem];
}

/** Maps an error thrown by jose's jwtVerify. Unknown errors are a refusal too (token_invalid), never an allow. */
export function failureFromJoseError(err: unknown): CachedFailure {
  switch (codeOf(err)) {
    case 'ERR_JWT_EXPIRED':
      return EXPIRED;
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED': {
      const claim = claimOf(err);
      if (claim === 'nbf') return NOT_YET_VALID;
      if (claim === 'aud') return BAD_AUDIENCE;
      if (claim === 'iss') return UNTRUSTED_ISSUER;
      return claim !== undefined && NAMEABLE_CLAIMS.has(claim)
        ? bearerFailure('token_invalid', `token claim "${claim}" is missing or invalid`)
        : INVALID;
    }
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return BAD_SIGNATURE;
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return ALG_NOT_ALLOWED;
    case 'ERR_JWS_INVALID':
    case 'ERR_JWT_INVALID':
      return MALFORMED;
    default:
      return INVALID;
  }
}
