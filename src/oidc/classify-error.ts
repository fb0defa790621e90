/**
 * openid-client / oauth4webapi errors → the bounded login results. Branches
 * on error classes and `code`s, never on message text.
 */
import { AuthorizationResponseError, ClientError, ResponseBodyError } from 'openid-client';
import { UnusableIdTokenError } from './session-from-tokens.js';
import { IdpUnavailableError } from './oidc-errors.js';
import type { LoginResult } from './flow-reasons.js';

const ID_TOKEN_CODES = new Set([
  'OAUTH_JWT_CLAIM_COMPARISON_FAILED', // iss, aud, nonce, azp
  'OAUTH_JWT_TIMESTAMP_CHECK_FAILED', // exp, iat, auth_time
  'OAUTH_KEY_SELECTION_FAILED', // no key of the IdP's JWKS fits the signature
  'OAUTH_INVALID_RESPONSE', // missing/garbled ID token, bad signature
  'OAUTH_JWT_USERINFO_EXPECTED',
]);

const UNAVAILABLE_CODES = new Set(['OAUTH_RESPONSE_IS_NOT_CONFORM', 'OAUTH_RESPONSE_IS_NOT_JSON', 'OAUTH_PARSE_ERROR']);

export function classifyLoginError(err: unknown): Exclude<LoginResult, 'success'> {
  if (err instanceof IdpUnavailableError) return 'idp_unavailable';
  if (err instanceof UnusableIdTokenError) return 'id_token_invalid';
  // The IdP came back with ?error=… (access_denied, login_required…).
  if (err instanceof AuthorizationResponseError) return 'idp_error';
  if (err instanceof ResponseBodyError) {
    // A well-formed OAuth error from the token endpoint: invalid_grant (replayed/expired code, PKCE mismatch)…
    return err.status >= 500 ? 'idp_unavailable' : 'code_invalid';
  }
  if (err instanceof ClientError) {
    const code = err.code ?? '';
    if (ID_TOKEN_CODES.has(code)) return 'id_token_invalid';
    if (UNAVAILABLE_CODES.has(code)) return 'idp_unavailable';
    // `iss` or `state` of the authorization response not the expected one (mix-up).
    if (code === 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED') return 'state_invalid';
    return 'code_invalid';
  }
  // fetch failures (TypeError), timeouts (TimeoutError/AbortError): the IdP did not answer.
  if (err instanceof TypeError) return 'idp_unavailable';
  const name = (err as { name?: unknown } | null)?.name;
  if (name === 'TimeoutError' || name === 'AbortError') return 'idp_unavailable';
  return 'code_invalid';
}
