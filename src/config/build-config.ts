/**
 * Validated file (YAML shape) → `Config` (the shape every module reads):
 * Kestra/Micronaut keys land in their place, defaults are applied, relative
 * paths resolved, durations turned into seconds. Runs only on a file with no
 * problems, so it never fails.
 */
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import type { ConfigFile } from './schema.js';
import type {
  BearerIssuerConfig,
  BindingConfig,
  Config,
  OidcProviderConfig,
  RoleConfig,
  RuleConfig,
  SessionsStoreConfig,
  TokenSource,
  UsersStoreConfig,
} from './types.js';
import { DEFAULTS, defaultPrefix } from './config-defaults.js';
import type { SourcePositions } from './source-positions.js';

type Authz = NonNullable<ConfigFile['authz']>;

export interface BuildContext {
  readonly source: string;
  readonly baseDir: string;
  readonly positions: SourcePositions;
  /** Warnings found so far; build adds its own. */
  readonly warnings: string[];
}

export const EPHEMERAL_SECRET_WARNING =
  'NO SECRET CONFIGURED: set kestra.encryption.secret-key (≥ 32 random bytes, the same on every replica). ' +
  'An EPHEMERAL random secret was generated: every session ends when this process stops and replicas cannot read each other\'s cookies.';

export function buildConfig(file: ConfigFile, ctx: BuildContext): Config {
  const kestra = file.kestra?.security;
  const micronaut = file.micronaut?.security;
  const authz: Authz = file.authz ?? {};
  const cookie = micronaut?.token?.cookie;
  const lockout = kestra?.login?.['failed-attempts'];
  const defaultRole = kestra?.['default-role'];
  return {
    source: ctx.source,
    secrets: buildSecrets(file, ctx.warnings),
    cookie: {
      name: cookie?.['cookie-name'] ?? DEFAULTS.cookie.name,
      maxAgeSeconds: cookie?.['cookie-max-age'] !== undefined ? Math.floor(cookie['cookie-max-age'] / 1000) : DEFAULTS.cookie.maxAgeSeconds,
      secure: cookie?.['cookie-secure'],
      sameSite: cookie?.['cookie-same-site'] ?? DEFAULTS.cookie.sameSite,
      domain: cookie?.['cookie-domain'],
      path: cookie?.['cookie-path'] ?? DEFAULTS.cookie.path,
    },
    oidc: {
      enabled: micronaut?.oauth2?.enabled ?? false,
      providers: buildProviders(file, ctx.baseDir, ctx.warnings),
      groupsClaimPath: kestra?.oidc?.['groups-claim-path'] ?? DEFAULTS.groupsClaimPath,
      // login flow
      allowInsecureHttpIssuers: insecureIssuers(authz, ctx.warnings),
      trustEmailClients: authz.oidc?.['trust-email-clients'] ?? [],
      frontchannelLogoutSidOptionalClients: authz.oidc?.['frontchannel-logout-sid-optional-clients'] ?? [],
    },
    logout: { getAllowed: micronaut?.endpoints?.logout?.['get-allowed'] ?? false },
    defaultRole: defaultRole && {
      name: defaultRole.name,
      description: defaultRole.description,
      permissions: defaultRole.permissions ?? {},
      tenantId: defaultRole['tenant-id'],
    },
    basicAuth: { enabled: kestra?.['basic-auth']?.enabled ?? DEFAULTS.basicAuthEnabled },
    lockout: {
      threshold: lockout?.threshold ?? DEFAULTS.lockout.threshold,
      windowSeconds: seconds(lockout?.['monitoring-window']) ?? DEFAULTS.lockout.windowSeconds,
      lockSeconds: seconds(lockout?.['lock-duration']) ?? DEFAULTS.lockout.lockSeconds,
    },
    sourceLockout: {
      enabled: authz['source-lockout']?.enabled ?? DEFAULTS.sourceLockout.enabled,
      threshold: authz['source-lockout']?.threshold ?? DEFAULTS.sourceLockout.threshold,
      windowSeconds: seconds(authz['source-lockout']?.['monitoring-window']) ?? DEFAULTS.sourceLockout.windowSeconds,
      lockSeconds: seconds(authz['source-lockout']?.['lock-duration']) ?? DEFAULTS.sourceLockout.lockSeconds,
      exempt: authz['source-lockout']?.exempt ?? DEFAULTS.sourceLockout.exempt,
    },
    externalUrl: authz['external-url'],
    http: {
      extAuthzPrefix: authz.http?.['ext-authz-prefix'] ?? DEFAULTS.extAuthzPrefix,
      forwardAuthTrust: authz.http?.['forward-auth']?.trust ?? DEFAULTS.forwardAuthTrust,
      keepAliveTimeoutMs: authz.http?.['keep-alive-timeout'] ?? DEFAULTS.httpKeepAliveTimeoutMs,
      ...(authz.http?.['client-cert-header'] === undefined ? {} : { clientCertHeader: authz.http['client-cert-header'] }),
    },
    listen: {
      grpc: authz.listen?.grpc ?? DEFAULTS.listen.grpc,
      http: authz.listen?.http ?? DEFAULTS.listen.http,
      management: authz.listen?.management ?? DEFAULTS.listen.management,
    },
    bearer: {
      issuers: (authz.bearer?.issuers ?? []).map(buildIssuer),
      clockSkewSeconds: seconds(authz.bearer?.['clock-skew']) ?? DEFAULTS.bearer.clockSkewSeconds,
      jwksMaxAgeSeconds: seconds(authz.bearer?.['jwks-max-age']) ?? DEFAULTS.bearer.jwksMaxAgeSeconds,
      jwksCooldownSeconds: seconds(authz.bearer?.['jwks-cooldown']) ?? DEFAULTS.bearer.jwksCooldownSeconds,
      jwksTimeoutMs: authz.bearer?.['jwks-timeout'] ?? DEFAULTS.bearer.jwksTimeoutMs,
    },
    users: buildUsers(authz, ctx.baseDir),
    sessions: buildSessions(authz),
    roles: (authz.roles ?? []).map(
      (role): RoleConfig => ({ name: role.name, description: role.description, permissions: role.permissions ?? {} }),
    ),
    bindings: (authz.bindings ?? []).map(
      (b, i): BindingConfig => ({
        user: b.user,
        group: b.group,
        ...(b.service === undefined ? {} : { service: b.service }),
        role: b.role,
        namespace: b.namespace,
        tenantId: b['tenant-id'],
        line: ctx.positions.lineOf(['authz', 'bindings', i]),
      }),
    ),
    rules: (authz.rules ?? []).map(
      (r, i): RuleConfig => ({
        id: r.id ?? `rule[${i}]`,
        match: { methods: r.match.methods, path: r.match.path, host: r.match.host, ...(r.match.principals === undefined ? {} : { principals: r.match.principals }) },
        allow: r.allow,
        require: r.require,
        ...(r['namespace-from'] === undefined ? {} : { namespaceFrom: r['namespace-from'] }),
        ...(r.shadow === true ? { shadow: true as const } : {}),
        ...(r['identity-audience'] === undefined ? {} : { identityAudience: r['identity-audience'] }),
        line: ctx.positions.lineOf(['authz', 'rules', i]),
      }),
    ),
    kestraRules: authz['kestra-rules'] ?? DEFAULTS.kestraRules,
    default: authz.default ?? DEFAULTS.default,
    userClaims: authz['user-claims'] ?? DEFAULTS.userClaims,
    headers: { ...DEFAULTS.headers, ...definedOnly(authz.headers ?? {}) },
    tokenCacheSize: authz['token-cache-size'] ?? DEFAULTS.tokenCacheSize,
    identityToken: buildIdentityToken(authz, ctx.baseDir),
    log: { level: authz.log?.level ?? DEFAULTS.logLevel, format: authz.log?.format ?? DEFAULTS.logFormat },
    tracing: buildTracing(authz),
    audit: buildAudit(authz, ctx.baseDir),
    warnings: ctx.warnings,
  };
}

// login flow
function insecureIssuers(authz: Authz, warnings: string[]): boolean {
  const allowed = authz.oidc?.['allow-insecure-http-issuers'] ?? false;
  if (allowed) {
    warnings.push('authz.oidc.allow-insecure-http-issuers is true: http:// OIDC issuers are accepted and codes, tokens and ' +
      'client secrets travel unencrypted. Development setups only.');
  }
  return allowed;
}

function buildSecrets(file: ConfigFile, warnings: string[]): Config['secrets'] {
  const base = file.kestra?.encryption?.['secret-key'];
  const jwt = file.micronaut?.security?.token?.jwt;
  const session = jwt?.signatures?.secret?.generator?.secret ?? base;
  const refresh = jwt?.generator?.['refresh-token']?.secret ?? base ?? session;
  if (session === undefined || refresh === undefined) {
    warnings.push(EPHEMERAL_SECRET_WARNING);
    return {
      session: session === undefined ? new Uint8Array(randomBytes(32)) : utf8(session),
      refresh: refresh === undefined ? new Uint8Array(randomBytes(32)) : utf8(refresh),
      ephemeral: true,
    };
  }
  return { session: utf8(session), refresh: utf8(refresh), ephemeral: false };
}

function buildProviders(file: ConfigFile, baseDir: string, warnings: string[]): OidcProviderConfig[] {
  const oauth2 = file.micronaut?.security?.oauth2;
  const clients = Object.entries(oauth2?.clients ?? {});
  if (!oauth2?.enabled) {
    if (clients.length) warnings.push('micronaut.security.oauth2.clients are configured but micronaut.security.oauth2.enabled is not true; OIDC login is off');
    return [];
  }
  // cross-checks.ts guarantees client-id and issuer when OIDC is enabled.
  const extras = file.authz?.oidc?.clients ?? {};
  return clients.map(([name, client]) => ({
    name,
    clientId: client['client-id']!,
    clientSecret: client['client-secret'],
    issuer: client.openid!.issuer!,
    scopes: client.scopes ?? DEFAULTS.oidcScopes,
    endSessionEnabled: client.openid?.['end-session']?.enabled,
    prompt: client.openid?.authorization?.prompt,
    authMethod: client.token?.['auth-method'],
    privateKeyFile: extras[name]?.['private-key-file'] === undefined ? undefined : resolve(baseDir, extras[name]!['private-key-file']!),
    privateKeyId: extras[name]?.['private-key-id'],
    userinfo: extras[name]?.userinfo ?? 'auto',
  }));
}

function buildIssuer(issuer: NonNullable<NonNullable<Authz['bearer']>['issuers']>[number]): BearerIssuerConfig {
  return {
    issuer: issuer.issuer,
    jwksUri: issuer['jwks-uri'],
    audiences: issuer.audiences,
    algorithms: issuer.algorithms ?? DEFAULTS.bearer.algorithms,
    from: issuer.from?.map(
      (s): TokenSource => (s.header !== undefined ? { header: s.header, prefix: s.prefix ?? defaultPrefix(s.header) } : { cookie: s.cookie! }),
    ) ?? DEFAULTS.bearer.from,
    groupsClaimPath: issuer['groups-claim-path'],
    tokenTypes: issuer['token-types'] ?? [],
    acceptIdTokens: issuer['accept-id-tokens'] ?? DEFAULTS.bearer.acceptIdTokens,
    trustEmail: issuer['trust-email'] ?? false,
  };
}

function buildUsers(authz: Authz, baseDir: string): UsersStoreConfig {
  const users = authz.users;
  if (users?.store === 'postgres' || (users?.store === undefined && users?.url !== undefined)) {
    return { store: 'postgres', url: users.url! };
  }
  return { store: 'file', file: resolve(baseDir, users?.file ?? DEFAULTS.usersFile) };
}

function buildSessions(authz: Authz): SessionsStoreConfig {
  const sessions = authz.sessions;
  if (sessions?.store === 'redis' || (sessions?.store === undefined && sessions?.url !== undefined)) {
    return { store: 'redis', url: sessions.url!, prefix: sessions.prefix ?? DEFAULTS.sessionsPrefix };
  }
  const revocations = sessions?.revocations;
  if (revocations?.store === 'redis' || (revocations?.store === undefined && revocations?.url !== undefined)) {
    return { store: 'cookie', revocations: { url: revocations.url!, prefix: revocations.prefix ?? DEFAULTS.sessionsPrefix } };
  }
  return { store: 'cookie' };
}

/** Unset endpoint, timeout and service name stay undefined: the OTEL_* variables may supply them (tracing.ts). */
function buildTracing(authz: Authz): Config['tracing'] {
  const tracing = authz.tracing;
  return {
    enabled: tracing?.enabled ?? false,
    endpoint: tracing?.otlp?.endpoint,
    exportHeaders: tracing?.otlp?.headers ?? {},
    timeoutMs: tracing?.otlp?.timeout,
    samplerRatio: tracing?.sampler?.ratio ?? DEFAULTS.tracing.samplerRatio,
    serviceName: tracing?.['service-name'],
    resourceAttributes: tracing?.['resource-attributes'] ?? {},
    includeUser: tracing?.['include-user'] ?? false,
  };
}

function buildIdentityToken(authz: Authz, baseDir: string): Config['identityToken'] {
  const token = authz['identity-token'];
  const keyFile = token?.['key-file'];
  return {
    enabled: token?.enabled ?? false,
    header: (token?.header ?? authz.headers?.identity ?? DEFAULTS.identityToken.header).toLowerCase(),
    algorithm: token?.algorithm ?? DEFAULTS.identityToken.algorithm,
    ...(keyFile === undefined ? {} : { keyFile: resolve(baseDir, keyFile) }),
    ttlSeconds: seconds(token?.ttl !== undefined ? Math.ceil(token.ttl / 1000) * 1000 : undefined) ?? DEFAULTS.identityToken.ttlSeconds,
    ...(token?.audience === undefined ? {} : { audience: token.audience }),
  };
}

function buildAudit(authz: Authz, baseDir: string): Config['audit'] {
  const audit = authz.audit;
  const output = audit?.output ?? DEFAULTS.audit.output;
  return {
    enabled: audit?.enabled ?? false,
    output: output === 'stdout' ? output : resolve(baseDir, output),
    maxSizeBytes: audit?.['max-size'] ?? DEFAULTS.audit.maxSizeBytes,
    maxFiles: audit?.['max-files'] ?? DEFAULTS.audit.maxFiles,
    sampleAllows: audit?.['sample-allows'] ?? DEFAULTS.audit.sampleAllows,
    sampleDenies: audit?.['sample-denies'] ?? DEFAULTS.audit.sampleDenies,
    bufferLines: audit?.['buffer-lines'] ?? DEFAULTS.audit.bufferLines,
  };
}

function seconds(ms: number | undefined): number | undefined {
  return ms === undefined ? undefined : ms / 1000;
}

function utf8(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
