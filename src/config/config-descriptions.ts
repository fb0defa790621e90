/**
 * One line per configuration key, for the generated reference
 * (config-reference.ts explains why this is a map and how it is kept
 * complete). Keys are the paths config-reference.ts derives from the schema:
 * `[]` for every entry of a list, `<name>` for an operator-chosen name.
 * Defaults are taken from DEFAULTS wherever a value lives there, so a
 * changed default changes the documentation with it.
 */
import { DEFAULTS } from './config-defaults.js';

export interface KeyDoc {
  /** One line: what the key does. */
  readonly text: string;
  /** The value used when the key is absent, written as it would be in the file. */
  readonly default?: string;
  /** When the default is not one value ("derived from …"); prose. */
  readonly defaultNote?: string;
}

/** 86400 → `1d`, 300 → `5m`, 30 → `30s`: the shortest exact duration form the loader accepts. */
function duration(seconds: number): string {
  for (const [unit, size] of [['d', 86_400], ['h', 3_600], ['m', 60]] as const) {
    if (seconds >= size && seconds % size === 0) return `${seconds / size}${unit}`;
  }
  return Number.isInteger(seconds) ? `${seconds}s` : `${seconds * 1000}ms`;
}

// YAML flow list; entries with a `:` (IPv6) quoted.
const list = (values: readonly string[]): string => `[${values.map((v) => (v.includes(':') ? JSON.stringify(v) : v)).join(', ')}]`;
const hostPort = (hp: { readonly host: string; readonly port: number }): string => `${hp.host}:${hp.port}`;

export const CONFIG_KEY_DOCS: Readonly<Record<string, KeyDoc>> = {
  // kestra:
  'kestra.encryption.secret-key': {
    text: 'Signs the session cookie and encrypts the refresh-token cookie; the same on every replica. Absent: an ephemeral random secret and a loud warning.',
    defaultNote: 'ephemeral',
  },
  'kestra.security.default-role.name': { text: 'Role of every authenticated identity that no binding applies to in the request\'s tenant.' },
  'kestra.security.default-role.description': { text: 'Free text.' },
  'kestra.security.default-role.permissions': { text: 'Permissions of the default role, e.g. `{ FLOW: [READ], EXECUTION: [READ] }`; `*` = every action.', default: '{}' },
  'kestra.security.default-role.tenant-id': { text: 'Applies the default role in this tenant only.', defaultNote: 'every tenant' },
  'kestra.security.oidc.groups-claim-path': {
    text: 'Dot path to the groups in ID/access-token claims: `groups`, `resource_access.kestra.roles`, `realm_access.roles`, `a.b[0]`.',
    default: DEFAULTS.groupsClaimPath,
  },
  'kestra.security.basic-auth.enabled': { text: 'HTTP Basic auth (and the `/login` form) for local users.', default: String(DEFAULTS.basicAuthEnabled) },
  'kestra.security.login.failed-attempts.threshold': {
    text: 'Failed Basic/form logins of one user name that lock it (per address, or everywhere when they come from several addresses).',
    default: String(DEFAULTS.lockout.threshold),
  },
  'kestra.security.login.failed-attempts.monitoring-window': {
    text: 'Window in which those failures are counted; it opens at the first failure.',
    default: duration(DEFAULTS.lockout.windowSeconds),
  },
  'kestra.security.login.failed-attempts.lock-duration': {
    text: 'How long a locked user name is refused (`basic_locked_out`), counted from the lock; refused attempts do not extend it.',
    default: duration(DEFAULTS.lockout.lockSeconds),
  },

  // micronaut:
  'micronaut.security.token.jwt.signatures.secret.generator.secret': {
    text: 'Overrides `kestra.encryption.secret-key` for the session cookie (with Redis: the session-id signature and the stored sessions\' encryption).',
    defaultNote: '`kestra.encryption.secret-key`',
  },
  'micronaut.security.token.jwt.generator.refresh-token.secret': {
    text: 'Overrides `kestra.encryption.secret-key` for the encrypted refresh-token cookie (`JWT_REFRESH_TOKEN`).',
    defaultNote: '`kestra.encryption.secret-key`',
  },
  'micronaut.security.token.cookie.cookie-max-age': {
    text: 'Lifetime of the session cookie and the longest a session lasts, refreshes included.',
    default: duration(DEFAULTS.cookie.maxAgeSeconds),
  },
  'micronaut.security.token.cookie.cookie-name': {
    text: 'Session cookie name; chunks of a large session are `<name>_1…<name>_8`.',
    default: DEFAULTS.cookie.name,
  },
  'micronaut.security.token.cookie.cookie-secure': {
    text: 'The `Secure` cookie attribute.',
    defaultNote: 'true when `authz.external-url` is https (else when the request was)',
  },
  'micronaut.security.token.cookie.cookie-same-site': {
    text: 'The `SameSite` cookie attribute; `none` requires `cookie-secure: true`.',
    default: DEFAULTS.cookie.sameSite,
  },
  'micronaut.security.token.cookie.cookie-domain': { text: 'The `Domain` cookie attribute, to share the session with sub-domains.', defaultNote: 'host only' },
  'micronaut.security.token.cookie.cookie-path': { text: 'The `Path` cookie attribute of the session cookies.', default: DEFAULTS.cookie.path },
  'micronaut.security.oauth2.enabled': { text: 'Browser login (OIDC) with the clients below; without it the clients are ignored with a warning.', default: 'false' },
  'micronaut.security.oauth2.clients': {
    text: 'OIDC providers; the name is the `{provider}` in `/oauth/login/{provider}` and `/oauth/callback/{provider}`. Several → a chooser page at `/login`.',
  },
  'micronaut.security.oauth2.clients.<name>.client-id': { text: 'Client id registered at the IdP; required when OIDC is enabled.' },
  'micronaut.security.oauth2.clients.<name>.client-secret': { text: 'Client secret (confidential clients); masked by `config check`. Put it in `${ENV_VAR}`.' },
  'micronaut.security.oauth2.clients.<name>.scopes': { text: 'Scopes requested at login; must include `openid`.', default: list(DEFAULTS.oidcScopes) },
  'micronaut.security.oauth2.clients.<name>.token.auth-method': {
    text: 'How the client authenticates at the token endpoint (code exchange, refresh): `client_secret_post`, `client_secret_basic`, `client_secret_jwt`, `private_key_jwt` (key in `authz.oidc.clients.<name>.private-key-file`) or `none` (public client). [Client authentication](oidc-client-auth.md#client-authentication-at-the-token-endpoint).',
    defaultNote: 'from the IdP\'s `token_endpoint_auth_methods_supported`: with a secret client_secret_post, else client_secret_basic, else client_secret_jwt; with only a key private_key_jwt; with neither none',
  },
  'micronaut.security.oauth2.clients.<name>.openid.issuer': {
    text: 'Issuer URL; endpoints and keys are discovered from `<issuer>/.well-known/openid-configuration`. Required when OIDC is enabled; https unless `authz.oidc.allow-insecure-http-issuers`.',
  },
  'micronaut.security.oauth2.clients.<name>.openid.end-session.enabled': {
    text: '`false`: logout ends only our session, never redirects to the IdP\'s `end_session_endpoint`.',
    defaultNote: 'used when the IdP advertises one',
  },
  'micronaut.security.oauth2.clients.<name>.openid.authorization.prompt': { text: 'OIDC `prompt` sent with the authorization request.', defaultNote: 'not sent' },
  'micronaut.security.endpoints.logout.get-allowed': { text: 'Also accept `GET /logout` (otherwise POST only).', default: 'false' },

  // authz:
  'authz.external-url': {
    text: 'Where browsers reach the app: base of the OIDC callback and post-logout URLs, same-origin checks, `Secure` cookies. Set it in production.',
    defaultNote: 'derived from each request\'s host (with a warning)',
  },
  'authz.oidc.allow-insecure-http-issuers': { text: 'Accept `http://` OIDC issuers (codes and tokens travel unencrypted). Development only; logs a warning.', default: 'false' },
  'authz.oidc.trust-email-clients': {
    text: 'Login clients (`micronaut.security.oauth2.clients.<name>`) whose ID-token `email` is used without `email_verified: true` (as the name, for `user` bindings, as `x-kestra-email`). Only for providers that verify every address themselves.',
    defaultNote: 'none',
  },
  'authz.oidc.clients': {
    text: 'Per login client (the `<name>` of `micronaut.security.oauth2.clients.<name>`): settings Micronaut has no key for.',
  },
  'authz.oidc.clients.<name>.userinfo': {
    text: '`auto`: after the code exchange (and a refresh), ask the IdP\'s userinfo endpoint when the ID token lacks a claim the config reads (groups at `groups-claim-path`, the `user-claims`, `email`); `always`; `never`. Userinfo must name the same `sub` (else the login is refused); ID-token claims win on conflict. [Claims from userinfo](oidc-client-auth.md#claims-from-userinfo).',
    default: 'auto',
  },
  'authz.oidc.clients.<name>.private-key-file': {
    text: 'Private key (PEM, or a JWK / JWK set as JSON) signing the `private_key_jwt` client assertion; RSA (RS256), EC (ES256/384/512) or Ed25519. Relative to the config file. Read at discovery.',
    defaultNote: 'none',
  },
  'authz.oidc.clients.<name>.private-key-id': {
    text: '`kid` put in the client assertion\'s header (and the key picked from a JWK set).',
    defaultNote: 'the JWK\'s `kid`, else none',
  },
  'authz.oidc.frontchannel-logout-sid-optional-clients': {
    text: 'Login clients whose IdP may call `GET /oauth/frontchannel-logout/<name>` without `iss` and `sid` (registered with `frontchannel_logout_session_required: false`): such a call ends only the session of the browser loading it. Every other client\'s front-channel logout without them is refused (400).',
    defaultNote: 'none (iss + sid required)',
  },
  'authz.http.ext-authz-prefix': {
    text: 'Path prefix under which the HTTP door answers Envoy\'s HTTP ext_authz (`http_service.path_prefix`).',
    default: DEFAULTS.extAuthzPrefix,
  },
  'authz.http.forward-auth.trust': {
    text: 'Which proxy calls the HTTP door, so whose headers describe the request being decided. `nginx`: `X-Original-URI`/`-Method` only; '
      + '`caddy`, `traefik`: `X-Forwarded-Uri`/`-Method` only (under these three the ext_authz prefix is not served); `envoy`: the ext_authz prefix only, no forward-auth; '
      + '`auto`: the prefix and either dialect, one per request — both present and disagreeing, or a URI without its method, is a 400. '
      + 'A header the door reads arriving twice is always a 400.',
    default: DEFAULTS.forwardAuthTrust,
  },
  'authz.http.keep-alive-timeout': {
    text: 'How long the HTTP door keeps an idle connection from a proxy open. Keep it longer than the proxy\'s own idle timeout '
      + '(the recipes use 60 s; Traefik\'s `forwardAuth` client keeps 90 s, so set `100s` behind Traefik) so the proxy always closes an idle connection first '
      + 'and never sends a check on one the door is closing (docs/recipes/keep-alive.md). A reload applies it from the next request on.',
    default: duration(DEFAULTS.httpKeepAliveTimeoutMs / 1000),
  },
  'authz.http.client-cert-header': {
    text: 'Header in which the proxy in front of the HTTP door passes the verified client certificate of an mTLS peer, '
      + 'Envoy\'s `x-forwarded-client-cert` (`forward_client_cert_details: SANITIZE_SET`, `set_current_client_cert_details: {uri: true}`). '
      + 'The `URI` of its LAST element is the peer\'s SPIFFE id (docs/mesh-identity.md). Only a proxy that replaces the client\'s '
      + 'header may be named here; unset, the header is ignored. Arriving on two lines: 400.',
    defaultNote: 'not read (the HTTP door has no peer principal)',
  },
  'authz.listen.grpc': { text: 'gRPC door: `envoy.service.auth.v3.Authorization/Check`, gRPC health, reflection.', default: hostPort(DEFAULTS.listen.grpc) },
  'authz.listen.http': { text: 'HTTP door: Envoy HTTP ext_authz, forward-auth, `/oauth/*`, `/login`, `/logout`.', default: hostPort(DEFAULTS.listen.http) },
  'authz.listen.management': { text: '`/metrics`, `/healthz`, `/readyz`. Never route it through the proxy.', default: hostPort(DEFAULTS.listen.management) },
  'authz.bearer.issuers': { text: 'Issuers whose Bearer JWTs are accepted; a token\'s `iss` picks the entry.', default: '[]' },
  'authz.bearer.issuers[].issuer': { text: 'Expected `iss`, exactly (a trailing `/` matters).' },
  'authz.bearer.issuers[].jwks-uri': { text: 'JWKS URL; required when `issuer` is not an http(s) URL.', defaultNote: 'discovered from `<issuer>/.well-known/openid-configuration`' },
  'authz.bearer.issuers[].audiences': { text: 'At least one must be in the token\'s `aud`.' },
  'authz.bearer.issuers[].algorithms': {
    text: 'Accepted JWS algorithms; asymmetric only (`none` and `HS*` are config errors).',
    default: list(DEFAULTS.bearer.algorithms),
  },
  'authz.bearer.issuers[].from': { text: 'Where the token is read, tried in order.', defaultNote: '`Authorization: Bearer …`' },
  'authz.bearer.issuers[].from[].header': { text: 'Header carrying the token (give `header` or `cookie`).' },
  'authz.bearer.issuers[].from[].prefix': { text: 'Prefix stripped from the header value (header only).', defaultNote: '`Bearer ` for authorization, else none' },
  'authz.bearer.issuers[].from[].cookie': { text: 'Cookie carrying the bare token.' },
  'authz.bearer.issuers[].groups-claim-path': { text: 'Groups claim path for this issuer\'s tokens.', defaultNote: '`kestra.security.oidc.groups-claim-path`' },
  'authz.bearer.issuers[].token-types': {
    text: 'Required JWT `typ` header, one of these (case-insensitive, `application/` optional), e.g. `[at+jwt]` for RFC 9068 access tokens. Logout tokens (`logout+jwt`, `events` claim) are refused whatever this says.',
    defaultNote: 'any `typ`, or none',
  },
  'authz.bearer.issuers[].accept-id-tokens': {
    text: 'Accept OpenID Connect ID tokens (a `nonce`, `at_hash`, `c_hash` or `s_hash` claim, or Keycloak\'s `typ: ID` claim) as Bearer tokens. Only for IdPs whose access tokens are not JWTs (Google).',
    default: 'false',
  },
  'authz.bearer.issuers[].trust-email': {
    text: 'Use this issuer\'s `email` claim without `email_verified: true` (as the name, for `user` bindings, as `x-kestra-email`). Only for IdPs that verify every address themselves.',
    default: 'false',
  },
  'authz.bearer.clock-skew': { text: 'Tolerance on `exp`, `nbf` and `iat` (a token issued further in the future is refused).', default: duration(DEFAULTS.bearer.clockSkewSeconds) },
  'authz.bearer.jwks-max-age': { text: 'A JWKS older than this is refetched in the background.', default: duration(DEFAULTS.bearer.jwksMaxAgeSeconds) },
  'authz.bearer.jwks-cooldown': {
    text: 'At most one JWKS fetch per issuer per cooldown: unknown-`kid` refetches and retries of a failing issuer.',
    default: duration(DEFAULTS.bearer.jwksCooldownSeconds),
  },
  'authz.bearer.jwks-timeout': { text: 'Timeout of one discovery or JWKS request.', default: duration(DEFAULTS.bearer.jwksTimeoutMs / 1000) },
  'authz.users.store': { text: 'Where local (Basic) users live.', defaultNote: '`file`; `postgres` when `url` is set' },
  'authz.users.file': { text: 'Users file (scrypt hashes, mode 0600), relative to the config file.', default: DEFAULTS.usersFile },
  'authz.users.url': { text: 'PostgreSQL URL; `?schema=` picks the schema (default `public`). Lockout state moves there too.' },
  'authz.sessions.store': { text: '`cookie`: the session lives in signed cookies; `redis`: the cookie holds an id, the session lives in Redis.', defaultNote: '`cookie`; `redis` when `url` is set' },
  'authz.sessions.url': { text: 'Redis URL (`rediss://` for TLS).' },
  'authz.sessions.prefix': { text: 'Prefix of every Redis key and of the revocation channel.', default: JSON.stringify(DEFAULTS.sessionsPrefix) },
  'authz.sessions.revocations.store': {
    text: 'Cookie store: where logouts (`/logout` and back-channel) are kept so that a copy of an ended session cookie is refused. `memory`: in each process (one replica only); `redis`: shared by every replica (within a second).',
    defaultNote: '`memory`; `redis` when `url` is set',
  },
  'authz.sessions.revocations.url': { text: 'Redis URL (`rediss://` for TLS) of the shared logout list.' },
  'authz.sessions.revocations.prefix': { text: 'Prefix of the logout list\'s Redis keys and channel.', defaultNote: `${JSON.stringify(DEFAULTS.sessionsPrefix)}` },
  'authz.roles': { text: 'Roles, as in Kestra; `admin` is built in (every permission).', default: '[]' },
  'authz.roles[].name': { text: 'Role name, used by bindings.' },
  'authz.roles[].description': { text: 'Free text.' },
  'authz.roles[].permissions': { text: '`{ FLOW: [CREATE, READ], EXECUTION: ["*"] }`; names are open strings, upper-cased.', default: '{}' },
  'authz.bindings': { text: 'Who holds which role, where.', default: '[]' },
  'authz.bindings[].user': { text: 'Identity name (Basic user, first `user-claims` claim) or `sub`; give `user` or `group`.' },
  'authz.bindings[].group': { text: 'A group from the groups claim or a local user\'s groups; give `user` or `group`.' },
  'authz.bindings[].service': { text: 'A mesh workload calling without a user credential, by the SPIFFE id of its mTLS certificate (`*` one segment, trailing `**` the rest); give only one of `user`, `group`, `service`.' },
  'authz.bindings[].role': { text: 'A role of `authz.roles`, or `admin`.' },
  'authz.bindings[].namespace': { text: 'Limits the binding to this namespace and its children.', defaultNote: 'every namespace' },
  'authz.bindings[].tenant-id': { text: 'Limits the binding to one tenant.', defaultNote: 'every tenant' },
  'authz.rules': { text: 'Your route rules, checked before the built-in Kestra rules; first match wins.', default: '[]' },
  'authz.rules[].id': { text: 'Name in logs, metrics metadata and `explain`.', defaultNote: '`rule[<index>]`' },
  'authz.rules[].match.methods': { text: 'Methods matched; `GET` also matches `HEAD`.', defaultNote: 'every method' },
  'authz.rules[].match.path': { text: 'Path template: literal segments, `{name}` (one segment; `{tenant}`, `{namespace}` feed RBAC), `*`, trailing `**`.' },
  'authz.rules[].match.host': { text: 'Exact host or `*.example.com`; the port is ignored.', defaultNote: 'every host' },
  'authz.rules[].match.principals': {
    text: 'SPIFFE ids of the mTLS peer (the calling workload, whatever user it carries): `spiffe://td/ns/x/sa/y`, `*` = exactly one segment, trailing `**` = one or more; the trust domain is literal. A request without a peer principal never matches.',
    defaultNote: 'any peer, or none',
  },
  'authz.rules[].allow': { text: 'Give `allow` or `require`.' },
  'authz.rules[].identity-audience': { text: 'The signed identity token\'s `aud` for requests this rule allows (`authz.identity-token`).', defaultNote: '`authz.identity-token.audience`, else the request host' },
  'authz.rules[].require': { text: 'Permission needed in the captured namespace/tenant: `FLOW:READ`, `FLOW:READ|UPDATE`, `FLOW:*`.' },
  'authz.rules[].namespace-from': { text: '`query`: a search endpoint; its namespaces come from the query (`namespace=`, `filters[namespace][EQUALS|PREFIX|IN]=`), each must be granted, and without such a filter only a grant not limited to a namespace allows it. Only with `require`.', defaultNote: 'the `{namespace}` captured from the path' },
  'authz.rules[].shadow': { text: '`true`: a shadow rule (docs/rules.md, "Shadow rules"): the live policy ignores it; the shadow policy has it in force, in place (or before the shadow file\'s rules when `authz.shadow` is set).', default: 'false' },
  'authz.shadow': { text: 'Shadow policy file (docs/rules.md, "Shadow rules"): a whole config, relative to this one, decided beside the live policy on every request without affecting the answer; disagreements are counted and logged. Reloaded with this file, and watched like it. Only its policy is used (rules, kestra-rules, default, roles, bindings, default role); its other keys are validated, not used.', defaultNote: 'no shadow policy' },
  'authz.kestra-rules': { text: 'The built-in rules for Kestra\'s API and UI (`src/authz/kestra-api-rules.ts`).', default: String(DEFAULTS.kestraRules) },
  'authz.default': { text: 'What a request no rule matches needs.', default: DEFAULTS.default },
  'authz.user-claims': { text: 'Claims tried in order for an identity\'s name (bindings\' `user`, `x-kestra-user`); else `sub`.', default: list(DEFAULTS.userClaims) },
  'authz.headers.user': { text: 'Upstream header with the identity\'s name.', default: DEFAULTS.headers.user },
  'authz.headers.email': { text: 'Upstream header with the e-mail.', default: DEFAULTS.headers.email },
  'authz.headers.groups': { text: 'Upstream header with the groups, comma-separated.', default: DEFAULTS.headers.groups },
  'authz.headers.tenant': { text: 'Upstream header with the tenant of the request.', default: DEFAULTS.headers.tenant },
  'authz.headers.identity': {
    text: 'Another name for `authz.identity-token.header`. Whatever is configured, a client\'s `x-kestra-identity` is removed from every allowed request, and so is a header of this name.',
    defaultNote: 'none',
  },
  'authz.identity-token.enabled': {
    text: 'On every allow, a short-lived JWT signed by this service in `header` (`sub: anonymous` on a public route without credentials), for upstreams or Istio `RequestAuthentication` to verify against `/.well-known/jwks.json` ([Mesh identity](mesh-identity.md)). Needs `authz.external-url` (the `iss`). Off, the header is only ever removed.',
    default: 'false',
  },
  'authz.identity-token.header': {
    text: 'Upstream header carrying the token (no prefix). A client-sent one never passes. Add it to your proxy recipe\'s copied headers when you rename it.',
    default: DEFAULTS.identityToken.header,
    defaultNote: '`authz.headers.identity` when set',
  },
  'authz.identity-token.algorithm': { text: '`ES256` (EC P-256) or `RS256` (RSA ≥ 2048 bits); the generated key\'s, and the key file\'s first key must be of this kind.', default: DEFAULTS.identityToken.algorithm },
  'authz.identity-token.key-file': {
    text: 'PEM (private key blocks, then optional public ones) or JWK set file, relative to this config: the first key signs, the others are only published (rotation). Re-read on reload; a key that leaves it stays published until its tokens expired. Without it a key is generated at start: one replica only (`serve --workers` then runs one worker).',
    defaultNote: 'a key generated at start',
  },
  'authz.identity-token.ttl': { text: 'Token lifetime (`exp` − `iat`), never past the caller\'s own credential; a token is reused for the same identity, audience, rule and tenant until a quarter of it is left.', default: duration(DEFAULTS.identityToken.ttlSeconds) },
  'authz.identity-token.audience': { text: 'The token\'s `aud`, unless the matched rule has `identity-audience`.', defaultNote: 'the request host (without port)' },
  'authz.token-cache-size': { text: 'Verified Bearer tokens kept until their `exp` (LRU); 0 = no cache.', default: String(DEFAULTS.tokenCacheSize) },
  'authz.source-lockout.enabled': { text: 'Per-address brute-force limit on Basic/form logins.', default: String(DEFAULTS.sourceLockout.enabled) },
  'authz.source-lockout.threshold': { text: 'Failed logins from one address (an IPv6 /64) that block it.', default: String(DEFAULTS.sourceLockout.threshold) },
  'authz.source-lockout.monitoring-window': { text: 'Window in which they are counted.', default: duration(DEFAULTS.sourceLockout.windowSeconds) },
  'authz.source-lockout.lock-duration': { text: 'How long the address is blocked (`basic_source_locked_out`).', default: duration(DEFAULTS.sourceLockout.lockSeconds) },
  'authz.source-lockout.exempt': { text: 'Addresses never blocked per address (a trusted proxy, an office NAT); setting it replaces the default.', default: list(DEFAULTS.sourceLockout.exempt) },
  'authz.log.level': { text: 'Log level (on stdout); denials are logged at `info`, allows at `debug`.', default: DEFAULTS.logLevel },
  'authz.log.format': {
    text: '`json` (one JSON object a line), `pretty` (`HH:MM:SS.mmm LEVEL message key=value…`, same redaction), or `auto`: pretty when stdout is a terminal, JSON otherwise; `serve --log-format` overrides it; needs a restart to change (see [Operations](operations.md#logs)).',
    default: DEFAULTS.logFormat,
  },
  'authz.tracing.enabled': { text: 'One OpenTelemetry span per decision, exported over OTLP/HTTP.', default: 'false' },
  'authz.tracing.otlp.endpoint': {
    text: 'Full URL of the collector\'s traces endpoint.',
    defaultNote: `\`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT\`, \`OTEL_EXPORTER_OTLP_ENDPOINT\` + /v1/traces, else \`${DEFAULTS.tracing.endpoint}\``,
  },
  'authz.tracing.otlp.headers': { text: 'Headers sent to the collector (credentials); merged over `OTEL_EXPORTER_OTLP_HEADERS`; masked by `config check`.', default: '{}' },
  'authz.tracing.otlp.timeout': {
    text: 'Per export, retries included.',
    defaultNote: `\`OTEL_EXPORTER_OTLP_TRACES_TIMEOUT\`, \`OTEL_EXPORTER_OTLP_TIMEOUT\`, else \`${duration(DEFAULTS.tracing.timeoutMs / 1000)}\``,
  },
  'authz.tracing.sampler.ratio': { text: 'Share of new traces sampled; requests with a trace context keep its decision.', default: String(DEFAULTS.tracing.samplerRatio) },
  'authz.tracing.service-name': { text: 'Resource `service.name`.', defaultNote: `\`resource-attributes.service.name\`, \`OTEL_SERVICE_NAME\`, else \`${DEFAULTS.tracing.serviceName}\`` },
  'authz.tracing.resource-attributes': { text: 'Extra resource attributes; merged over `OTEL_RESOURCE_ATTRIBUTES`.', default: '{}' },
  'authz.tracing.include-user': { text: 'Adds `user.name` to spans (personal data).', default: 'false' },
  'authz.audit.enabled': { text: 'The decision audit log: one JSON line per logged decision (see [Audit log](audit-log.md)); needs a restart to change.', default: 'false' },
  'authz.audit.output': { text: '`stdout`, or a file path (relative to the config file), rotated by size.', default: DEFAULTS.audit.output },
  'authz.audit.max-size': { text: 'The file is rotated (`file` → `file.1` → …) before a line would take it past this size: `100MB`, `512KiB`, bytes.', default: '100MB' },
  'authz.audit.max-files': { text: 'Files kept, the live one included; the oldest is deleted.', default: String(DEFAULTS.audit.maxFiles) },
  'authz.audit.sample-allows': { text: 'Share of allows written, 0…1.', default: String(DEFAULTS.audit.sampleAllows) },
  'authz.audit.sample-denies': { text: 'Share of denials (401/403/302/5xx) written, 0…1.', default: String(DEFAULTS.audit.sampleDenies) },
  'authz.audit.buffer-lines': { text: 'Lines held while the output is slow; past that a line is dropped and counted (`kestra_authz_audit_dropped_total`), never waited for.', default: String(DEFAULTS.audit.bufferLines) },
};
