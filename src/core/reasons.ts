/**
 * The one registry of decision reason codes. Each code is a stable, bounded
 * metric label and the `error` field of JSON error bodies; callers branch on
 * the code, never on message text.
 */
export const REASONS = {
  // allow
  public: { status: 200, allow: true },
  permitted: { status: 200, allow: true },
  // 401 — no or bad credentials
  no_credentials: { status: 401, allow: false },
  token_malformed: { status: 401, allow: false },
  token_alg_not_allowed: { status: 401, allow: false },
  token_unknown_kid: { status: 401, allow: false },
  token_bad_signature: { status: 401, allow: false },
  token_expired: { status: 401, allow: false },
  token_not_yet_valid: { status: 401, allow: false },
  token_untrusted_issuer: { status: 401, allow: false },
  token_bad_audience: { status: 401, allow: false },
  token_invalid: { status: 401, allow: false },
  // a good signature on a token that is not an access token: logout token, ID token, another `typ`
  token_type_not_allowed: { status: 401, allow: false },
  basic_bad_credentials: { status: 401, allow: false },
  basic_locked_out: { status: 401, allow: false },
  basic_source_locked_out: { status: 401, allow: false },
  basic_disabled: { status: 401, allow: false },
  session_invalid: { status: 401, allow: false },
  session_expired: { status: 401, allow: false },
  // 403 — known caller, not allowed
  permission_denied: { status: 403, allow: false },
  rule_deny: { status: 403, allow: false },
  tenant_denied: { status: 403, allow: false },
  // 400 — request the core cannot reason about
  bad_request: { status: 400, allow: false },
  // login flow — its own pages and redirects (302/200), and logins that cannot complete
  login_redirect: { status: 302, allow: false },
  login_flow: { status: 302, allow: false },
  login_failed: { status: 400, allow: false },
  // 503/500 — a dependency failed; never an allow
  jwks_unavailable: { status: 503, allow: false },
  idp_unavailable: { status: 503, allow: false },
  store_unavailable: { status: 503, allow: false },
  // 503 — the door holds as many decoded requests as its memory bound allows
  overloaded: { status: 503, allow: false },
  internal_error: { status: 500, allow: false },
} as const satisfies Record<string, { status: number; allow: boolean }>;

export type ReasonCode = keyof typeof REASONS;

/** Reasons an authenticator may fail with (the 401/503 family). */
export type AuthnFailureReason = Extract<
  ReasonCode,
  | `token_${string}`
  | `basic_${string}`
  | `session_${string}`
  | 'jwks_unavailable'
  | 'idp_unavailable'
  | 'store_unavailable'
  | 'internal_error'
>;

export const REASON_CODES = Object.keys(REASONS) as ReasonCode[];
