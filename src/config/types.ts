/**
 * The typed, validated, frozen configuration every other module reads.
 * Produced by `loadConfig` from YAML (Kestra/Micronaut keys + `authz:` keys);
 * all defaults are already applied here, so consumers never re-default.
 */

export type ActionName = string; // open strings: Kestra 1.x CRUD and 2.x actions both fit
export type ResourceName = string;

/**
 * Which proxy describes a forward-auth request to the HTTP door: `auto` takes
 * exactly one dialect per request (refusing disagreeing ones), `nginx` reads
 * X-Original-URI/-Method only, `caddy`/`traefik` X-Forwarded-Uri/-Method
 * only, `envoy` none (forward-auth off; the ext_authz prefix only).
 */
export const FORWARD_AUTH_TRUSTS = ['auto', 'nginx', 'caddy', 'traefik', 'envoy'] as const;
export type ForwardAuthTrust = (typeof FORWARD_AUTH_TRUSTS)[number];

/** `{RESOURCE: [ACTIONS]}` exactly as Kestra writes it (upper-case keys and values). */
export type PermissionMap = Readonly<Record<ResourceName, readonly ActionName[]>>;

export interface RoleConfig {
  readonly name: string;
  readonly description?: string;
  readonly permissions: PermissionMap;
}

export interface DefaultRoleConfig extends RoleConfig {
  /** Limits the default role to one tenant; undefined = every tenant. */
  readonly tenantId?: string;
}

export interface BindingConfig {
  /** Exactly one of user / group / service is set. */
  readonly user?: string;
  readonly group?: string;
  /** A mesh workload (the mTLS peer) by SPIFFE id or pattern (`*` one segment, trailing `**` the rest). */
  readonly service?: string;
  readonly role: string;
  /** Limits the binding to this Kestra namespace and its children. */
  readonly namespace?: string;
  /** Limits the binding to one tenant. */
  readonly tenantId?: string;
  /** 1-based line in the config file, for messages. */
  readonly line?: number;
}

export type RuleAllow = 'public' | 'authenticated' | 'deny';

export interface RuleConfig {
  /** Name shown in explain output, metadata and logs; default `rule[<index>]`. */
  readonly id: string;
  readonly match: {
    /** Upper-case methods; undefined = any. */
    readonly methods?: readonly string[];
    /** Path template: literal segments, `{name}` captures one segment, `**` the rest. */
    readonly path: string;
    /** Exact host (lower-case, port ignored) or `*.example.com`; undefined = any. */
    readonly host?: string;
    /** SPIFFE ids or patterns of the mTLS peer; undefined = any peer, or none. */
    readonly principals?: readonly string[];
  };
  /** Exactly one of allow / require is set. */
  readonly allow?: RuleAllow;
  /** `RESOURCE:ACTION`, or `RESOURCE:*` for any action of the resource. */
  readonly require?: string;
  /**
   * 'query': a search; the namespaces come from the query string's namespace
   * filters, and every namespace it can return must be granted (no filter:
   * only a grant not limited to a namespace). Only with `require`.
   */
  readonly namespaceFrom?: 'query';
  /** `identity-audience`: the signed identity token's `aud` for requests this rule allows; undefined = authz.identity-token.audience, else the host. */
  readonly identityAudience?: string;
  /**
   * `shadow: true`: evaluated only by the shadow policy (src/config/shadow-config.ts).
   * Only while loading: the live `Config.rules` never holds such a rule.
   */
  readonly shadow?: true;
  readonly line?: number;
}

/**
 * `authz.shadow` and `authz.rules[].shadow` (src/server/shadow-evaluator.ts):
 * a second policy decided beside the live one on every request, never
 * answering. Undefined when neither is configured.
 */
export interface ShadowConfig {
  /** `authz.shadow`, resolved against the config file's directory; undefined = the live config is the shadow base. */
  readonly file?: string;
  /** Ids of the live config's `shadow: true` rules (in force in the shadow policy only). */
  readonly ruleIds: readonly string[];
  /** The whole shadow policy: the shadow file's config (or this one) with the shadow rules in force. */
  readonly policy: Config;
}

/** Where a bearer JWT is read from, in order. */
export type TokenSource =
  | { readonly header: string; readonly prefix: string }
  | { readonly cookie: string };

export interface BearerIssuerConfig {
  readonly issuer: string;
  /** Given directly, or undefined = discovered from `<issuer>/.well-known/openid-configuration`. */
  readonly jwksUri?: string;
  /** Accepted `aud` values; at least one must match. */
  readonly audiences: readonly string[];
  /** Asymmetric algorithms only; never `none`, never HS*. */
  readonly algorithms: readonly string[];
  readonly from: readonly TokenSource[];
  /** Groups claim path for this issuer (default: kestra.security.oidc.groups-claim-path). */
  readonly groupsClaimPath?: string;
  /**
   * Required JWT `typ` header values, normalized (lower case, no `application/`),
   * e.g. ['at+jwt'] (RFC 9068); absent or empty = any typ (logout tokens are refused regardless).
   */
  readonly tokenTypes?: readonly string[];
  /** Accept OpenID Connect ID tokens as Bearer tokens; absent = false. */
  readonly acceptIdTokens?: boolean;
  /** Use this issuer's `email` claim without `email_verified: true`; absent = false. */
  readonly trustEmail?: boolean;
}

export interface OidcProviderConfig {
  /** `<name>` in `micronaut.security.oauth2.clients.<name>`. */
  readonly name: string;
  readonly clientId: string;
  readonly clientSecret?: string;
  readonly issuer: string;
  readonly scopes: readonly string[];
  /** undefined = on when the provider advertises end_session_endpoint. */
  readonly endSessionEnabled?: boolean;
  readonly prompt?: string;
  /**
   * `…clients.<name>.token.auth-method`: how the client authenticates at the
   * token endpoint; undefined = chosen from the IdP's
   * `token_endpoint_auth_methods_supported` (src/oidc/client-auth.ts).
   */
  readonly authMethod?: ClientAuthMethod;
  /** `authz.oidc.clients.<name>.private-key-file`: the private_key_jwt key (PEM or JWK), absolute path. */
  readonly privateKeyFile?: string;
  /** `authz.oidc.clients.<name>.private-key-id`: the `kid` of the client assertion's header. */
  readonly privateKeyId?: string;
  /** `authz.oidc.clients.<name>.userinfo` (default auto): when the userinfo endpoint is asked (src/oidc/userinfo-claims.ts). */
  readonly userinfo: UserinfoMode;
}

/** Token-endpoint client authentication (OIDC Core §9, RFC 7523); tls_client_auth is not supported. */
export const CLIENT_AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'client_secret_jwt', 'private_key_jwt', 'none'] as const;
export type ClientAuthMethod = (typeof CLIENT_AUTH_METHODS)[number];

/** auto: ask userinfo when the ID token lacks a claim the config reads; always; never. */
export const USERINFO_MODES = ['auto', 'always', 'never'] as const;
export type UserinfoMode = (typeof USERINFO_MODES)[number];

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export interface IdentityTokenConfig {
  /** Default false: no token, no key, and the header is only ever removed. */
  readonly enabled: boolean;
  /** Lower-case header name (default x-kestra-identity, or authz.headers.identity when set). */
  readonly header: string;
  readonly algorithm: 'ES256' | 'RS256';
  /** PEM or JWK set, resolved against the config file's folder; undefined = a key generated at start. */
  readonly keyFile?: string;
  readonly ttlSeconds: number;
  /** Fixed `aud`; undefined = the request host (a rule's identity-audience wins over both). */
  readonly audience?: string;
}

export interface IdentityHeaderNames {
  readonly user: string;
  readonly email: string;
  readonly groups: string;
  readonly tenant: string;
  /** Header carrying a signed identity JWT; undefined = not sent. */
  readonly identity?: string;
}

export type UsersStoreConfig =
  | { readonly store: 'file'; readonly file: string }
  | { readonly store: 'postgres'; readonly url: string };

/** `authz.tracing`: an OpenTelemetry span per decision, exported over OTLP/HTTP. */
export interface TracingConfig {
  /** Default false: no SDK is loaded and the decision path pays one `if`. */
  readonly enabled: boolean;
  /** Collector URL (…/v1/traces); undefined = OTEL_EXPORTER_OTLP_TRACES_ENDPOINT / OTEL_EXPORTER_OTLP_ENDPOINT, else the default. */
  readonly endpoint?: string;
  /** Headers sent to the collector (lower-case names); values are secrets (masked by `config check`). */
  readonly exportHeaders: Readonly<Record<string, string>>;
  /** Per-export timeout; undefined = OTEL_EXPORTER_OTLP_TIMEOUT, else 10 s. */
  readonly timeoutMs?: number;
  /** Share of new traces sampled (0…1); a parent from Envoy keeps its own sampling decision. */
  readonly samplerRatio: number;
  /** service.name; undefined = OTEL_SERVICE_NAME, else kestra-authz. */
  readonly serviceName?: string;
  readonly resourceAttributes: Readonly<Record<string, string | number | boolean>>;
  /** Put the caller's name on spans (personal data: off by default). */
  readonly includeUser: boolean;
}

/** `authz.audit`: one JSON line per logged decision (audit/audit-log.ts). */
export interface AuditConfig {
  /** Default false: the decision path pays one `if`. */
  readonly enabled: boolean;
  /** 'stdout', or an absolute file path (resolved against the config file's folder). */
  readonly output: string;
  /** A file is rotated (file → file.1 → …) before a line would take it past this many bytes. */
  readonly maxSizeBytes: number;
  /** Files kept, the live one included. */
  readonly maxFiles: number;
  /** Share of allows written (0…1). */
  readonly sampleAllows: number;
  /** Share of denials written (0…1). */
  readonly sampleDenies: number;
  /** Lines held while the output is slow; a line past this is dropped and counted. */
  readonly bufferLines: number;
}

export type SessionsStoreConfig =
  /** `revocations`: logouts shared by every replica through Redis; absent = kept in each process. */
  | { readonly store: 'cookie'; readonly revocations?: { readonly url: string; readonly prefix: string } }
  | { readonly store: 'redis'; readonly url: string; readonly prefix: string };

export interface Config {
  /** Path of the file read, or '<embedded default>'. */
  readonly source: string;
  readonly secrets: {
    /** Signs the session cookie (≥ 32 bytes). */
    readonly session: Uint8Array;
    /** Protects the refresh token (≥ 32 bytes). */
    readonly refresh: Uint8Array;
    /** True when generated at start (no secret configured): sessions die with the process. */
    readonly ephemeral: boolean;
  };
  readonly cookie: {
    readonly name: string;
    readonly maxAgeSeconds: number;
    /** undefined = Secure when external-url is https. */
    readonly secure?: boolean;
    readonly sameSite: 'lax' | 'strict' | 'none';
    readonly domain?: string;
    readonly path: string;
  };
  readonly oidc: {
    readonly enabled: boolean;
    readonly providers: readonly OidcProviderConfig[];
    /** Dot path into claims giving groups; undefined = `groups`. */
    readonly groupsClaimPath: string;
    // login flow
    /**
     * `authz.oidc.allow-insecure-http-issuers` (default false): lets an
     * `http://` issuer be used for discovery, code exchange and refresh. Dev
     * setups only (compose demo's Keycloak); logged as a warning.
     */
    readonly allowInsecureHttpIssuers: boolean;
    /**
     * `authz.oidc.trust-email-clients` (default []): login clients whose ID
     * token's `email` is used (as the name, for bindings, as x-kestra-email)
     * even without `email_verified: true`.
     */
    readonly trustEmailClients: readonly string[];
    /**
     * `authz.oidc.frontchannel-logout-sid-optional-clients` (default []):
     * clients whose front-channel logout may come without `iss` + `sid`
     * (registered with `frontchannel_logout_session_required: false`); every
     * other client's is refused without them.
     */
    readonly frontchannelLogoutSidOptionalClients: readonly string[];
  };
  readonly logout: { readonly getAllowed: boolean };
  readonly defaultRole?: DefaultRoleConfig;
  readonly basicAuth: { readonly enabled: boolean };
  readonly lockout: {
    readonly threshold: number;
    readonly windowSeconds: number;
    readonly lockSeconds: number;
  };
  /** `authz.source-lockout`: per-address brute-force limits (src/authn/source-lockout.ts). */
  readonly sourceLockout: {
    readonly enabled: boolean;
    readonly threshold: number;
    readonly windowSeconds: number;
    readonly lockSeconds: number;
    /** CIDRs never blocked per address (default loopback). */
    readonly exempt: readonly string[];
  };
  readonly externalUrl?: string;
  /**
   * The HTTP door: `authz.http.ext-authz-prefix` (default /ext_authz), Envoy HTTP ext_authz's path_prefix;
   * `authz.http.forward-auth.trust` (default auto): whose headers describe the request being decided.
   */
  readonly http: {
    readonly extAuthzPrefix: string;
    readonly forwardAuthTrust: ForwardAuthTrust;
    /** `authz.http.keep-alive-timeout` (default 75 s): an idle connection to the door is closed after this long. */
    readonly keepAliveTimeoutMs: number;
    /** `authz.http.client-cert-header`: the proxy-set XFCC header the peer's principal is read from; undefined = none. */
    readonly clientCertHeader?: string;
  };
  readonly listen: {
    readonly grpc: HostPort;
    readonly http: HostPort;
    readonly management: HostPort;
  };
  readonly bearer: {
    readonly issuers: readonly BearerIssuerConfig[];
    /** Allowed clock skew for exp/nbf/iat, seconds (default 30). */
    readonly clockSkewSeconds: number;
    /** JWKS refresh: max-age (default 600 s) and cooldown between unknown-kid refetches (default 30 s). */
    readonly jwksMaxAgeSeconds: number;
    readonly jwksCooldownSeconds: number;
    readonly jwksTimeoutMs: number;
  };
  readonly users: UsersStoreConfig;
  readonly sessions: SessionsStoreConfig;
  readonly roles: readonly RoleConfig[];
  readonly bindings: readonly BindingConfig[];
  readonly rules: readonly RuleConfig[];
  readonly shadow?: ShadowConfig;
  readonly kestraRules: boolean;
  readonly default: RuleAllow;
  /** Claims tried in order for an identity's name (default [preferred_username, email]). */
  readonly userClaims: readonly string[];
  readonly headers: IdentityHeaderNames;
  /** Max verified tokens cached (default 10 000). */
  readonly tokenCacheSize: number;
  /** `authz.identity-token`: the signed identity token set on allowed requests (src/identity/). */
  readonly identityToken: IdentityTokenConfig;
  readonly log: {
    readonly level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
    /** `auto` = pretty lines when stdout is a terminal, JSON otherwise; `serve --log-format` overrides it. */
    readonly format: 'auto' | 'json' | 'pretty';
  };
  readonly tracing: TracingConfig;
  readonly audit: AuditConfig;
  /** Non-fatal findings (ignored Kestra keys, ephemeral secret…), each printed once. */
  readonly warnings: readonly string[];
}
