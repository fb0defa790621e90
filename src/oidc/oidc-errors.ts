/**
 * Typed errors of the login flow. Callers branch on `code`; messages never
 * carry a token, code, secret or cookie value.
 */
export type OidcErrorCode = 'ERR_IDP_UNAVAILABLE';

export class IdpUnavailableError extends Error {
  readonly code: OidcErrorCode = 'ERR_IDP_UNAVAILABLE';
  readonly provider: string;
  constructor(provider: string, message: string, cause?: unknown) {
    super(`OIDC provider ${provider}: ${message}`, cause === undefined ? undefined : { cause });
    this.name = 'IdpUnavailableError';
    this.provider = provider;
  }
}
