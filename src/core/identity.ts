/** Who is calling, as established by one authenticator. Plain data. */
export interface Identity {
  /** Which authenticator vouched for this identity. */
  readonly via: 'session' | 'bearer' | 'basic' | 'mtls';
  /** Stable subject: the token's `sub`, the Basic user name, or a service's SPIFFE id. */
  readonly subject: string;
  /** Name as operators know it: Basic user name, or the first `authz.user-claims` claim present. */
  readonly name: string;
  readonly email?: string;
  /** Groups from `groups-claim-path` (tokens) or the user record (Basic). */
  readonly groups: readonly string[];
  /** Token issuer, for bearer and session identities. */
  readonly issuer?: string;
  /** OIDC provider id (`clients.<name>`) for session identities. */
  readonly provider?: string;
  /** Tenant a local user belongs to (`--tenant`); undefined = any tenant. */
  readonly tenant?: string;
  /** Local users created with `--admin` hold the built-in admin role. */
  readonly admin?: boolean;
  /** Session identities: the claims that came from the IdP's userinfo response rather than the ID token. */
  readonly userinfoClaims?: readonly string[];
  /** Expiry of the credential (epoch seconds), when it has one. */
  readonly expiresAt?: number;
}
