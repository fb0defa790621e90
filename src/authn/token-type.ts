/**
 * Which kind of JWT a Bearer token is (RFC 8725 §3.11, explicit typing): an
 * issuer's key signs more than access tokens, and a token signed by a trusted
 * issuer for another purpose must not open the API.
 *
 * - Logout tokens and other Security Event Tokens (RFC 8417) are never access
 *   tokens: header `typ` `logout+jwt` / `secevent+jwt`, or an `events` claim
 *   (a logout token without `typ` still carries one). Refused whatever the
 *   issuer's settings; only the back-channel logout endpoint takes them.
 * - `token-types` (per issuer): the header `typ` must be one of them, e.g.
 *   `at+jwt` (RFC 9068).
 * - ID tokens (per issuer `accept-id-tokens`, default false): recognised by a
 *   claim only ID tokens carry — `nonce`, `at_hash`, `c_hash`, `s_hash` — or
 *   Keycloak's `typ: "ID"` claim. A token typed `at+jwt`, or with Keycloak's
 *   `typ: "Bearer"` claim, is an access token even with a `nonce` (Keycloak
 *   before 25 copied the nonce into its access tokens).
 *
 * `typ` values are compared as RFC 7515 §4.1.9 says: case-insensitive, an
 * `application/` prefix left out.
 */
export const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

/** Header `typ` values of tokens that are never access tokens. */
const EVENT_TYPES: ReadonlySet<string> = new Set(['logout+jwt', 'secevent+jwt']);
/** Claims an OpenID Connect ID token may carry and an access token does not. */
const ID_TOKEN_CLAIMS = ['nonce', 'at_hash', 'c_hash', 's_hash'] as const;
const ACCESS_TOKEN_TYPE = 'at+jwt';

export interface TokenTypeRules {
  /** Normalized required `typ` values; empty = any. */
  readonly tokenTypes: readonly string[];
  readonly acceptIdTokens: boolean;
}

export type TokenTypeProblem = 'typ_unreadable' | 'event_token' | 'typ_not_required' | 'id_token';

/** Lower case, without an `application/` prefix. */
export function normalizeTyp(typ: string): string {
  const lower = typ.trim().toLowerCase();
  return lower.startsWith('application/') ? lower.slice('application/'.length) : lower;
}

/**
 * Why a signature-verified token may not be used as a Bearer token, or
 * undefined when its type is acceptable under `rules`.
 */
export function tokenTypeProblem(
  header: Readonly<Record<string, unknown>>,
  claims: Readonly<Record<string, unknown>>,
  rules: TokenTypeRules,
): TokenTypeProblem | undefined {
  const rawTyp = header.typ;
  if (rawTyp !== undefined && typeof rawTyp !== 'string') return 'typ_unreadable';
  const typ = rawTyp === undefined ? undefined : normalizeTyp(rawTyp);
  if ((typ !== undefined && EVENT_TYPES.has(typ)) || Object.hasOwn(claims, 'events')) return 'event_token';
  if (rules.tokenTypes.length > 0 && (typ === undefined || !rules.tokenTypes.includes(typ))) return 'typ_not_required';
  if (!rules.acceptIdTokens && typ !== ACCESS_TOKEN_TYPE && looksLikeIdToken(claims)) return 'id_token';
  return undefined;
}

function looksLikeIdToken(claims: Readonly<Record<string, unknown>>): boolean {
  if (claims.typ === 'ID') return true;
  if (claims.typ === 'Bearer') return false;
  return ID_TOKEN_CLAIMS.some((claim) => Object.hasOwn(claims, claim));
}
