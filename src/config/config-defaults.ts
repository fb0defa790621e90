/**
 * Every default in one place. Kestra/Micronaut defaults follow those
 * projects; where they have none that fits an auth proxy, the choice and
 * its reason are written next to it.
 */
import type { ForwardAuthTrust, IdentityHeaderNames, TokenSource } from './types.js';
import { ASYMMETRIC_ALGORITHMS } from './permission-fields.js';

export const DEFAULTS = {
  cookie: {
    name: 'JWT',
    // Micronaut ties the cookie to the JWT's lifetime and sets no max-age by
    // default; a session cookie that outlives browser restarts for one day is
    // what Kestra operators expect from the SSO guides (which use P1D–P2D).
    maxAgeSeconds: 86_400,
    sameSite: 'lax',
    path: '/',
  },
  oidcScopes: ['openid', 'email', 'profile'],
  groupsClaimPath: 'groups',
  basicAuthEnabled: true,
  lockout: { threshold: 10, windowSeconds: 300, lockSeconds: 1_800 },
  // Per address: above the per-user threshold (one office behind NAT mistypes more than one user does),
  // blocked for less than a user lock. Loopback is exempt: there it is a co-located proxy, not a client.
  sourceLockout: { enabled: true, threshold: 20, windowSeconds: 300, lockSeconds: 900, exempt: ['127.0.0.0/8', '::1/128'] },
  listen: {
    grpc: { host: '0.0.0.0', port: 9191 },
    http: { host: '0.0.0.0', port: 8080 },
    management: { host: '0.0.0.0', port: 8081 },
  },
  bearer: {
    clockSkewSeconds: 30,
    jwksMaxAgeSeconds: 600,
    jwksCooldownSeconds: 30,
    jwksTimeoutMs: 5_000,
    algorithms: ASYMMETRIC_ALGORITHMS,
    from: [{ header: 'authorization', prefix: 'Bearer ' }] as readonly TokenSource[],
    // An ID token tells a client who logged in; it is not an API credential (RFC 8725 §3.11).
    acceptIdTokens: false,
  },
  usersFile: './users.yaml',
  // Envoy's HTTP ext_authz appends the original path to path_prefix.
  extAuthzPrefix: '/ext_authz',
  // One dialect per request, disagreeing or repeated forwarded headers refused (src/server/forwarded-headers.ts).
  forwardAuthTrust: 'auto' as ForwardAuthTrust,
  // Longer than the proxies' 60 s idle timeouts (docs/recipes/keep-alive.md): they close an idle connection first.
  httpKeepAliveTimeoutMs: 75_000,
  sessionsPrefix: 'kestra-authz:',
  kestraRules: true,
  default: 'authenticated',
  userClaims: ['preferred_username', 'email'],
  headers: {
    user: 'x-kestra-user',
    email: 'x-kestra-email',
    groups: 'x-kestra-groups',
    tenant: 'x-kestra-tenant',
  } satisfies IdentityHeaderNames,
  // ~0.7 KB of heap per verified token (bench/memory-probe.ts): 10 000 is ~7 MB, and far more
  // concurrently active tokens than one replica of a Kestra deployment sees; a miss costs one RS256 verify.
  tokenCacheSize: 10_000,
  identityToken: {
    header: 'x-kestra-identity',
    // ES256: small tokens and signatures, cheap to sign; Istio and every JOSE library verify it.
    algorithm: 'ES256',
    // Oathkeeper's id_token default is 15 min; a token replayed from a log or a compromised upstream
    // is worth far less at 60 s, and the cache keeps the signing cost to one per identity a minute.
    ttlSeconds: 60,
  },
  logLevel: 'info',
  logFormat: 'auto',
  tracing: {
    // OTLP/HTTP's standard port on the same host: a collector sidecar / DaemonSet agent.
    endpoint: 'http://127.0.0.1:4318/v1/traces',
    timeoutMs: 10_000,
    // Every new trace; traces Envoy started keep Envoy's sampling decision (parent-based).
    samplerRatio: 1,
    serviceName: 'kestra-authz',
  },
  audit: {
    output: 'stdout',
    // 100 MB × 5 files: ~0.5 GB on disk, several days of denials on a busy replica.
    maxSizeBytes: 100_000_000,
    maxFiles: 5,
    // Allows are the bulk of the traffic; one in a hundred shows the shape of it. Denials are all kept.
    sampleAllows: 0.01,
    sampleDenies: 1,
    // ~0.5 KB a line: ~5 MB held at most while the output is slow.
    bufferLines: 10_000,
  },
} as const;

/** Default token prefix for a `from: {header}` entry without one. */
export function defaultPrefix(header: string): string {
  return header === 'authorization' ? 'Bearer ' : '';
}
