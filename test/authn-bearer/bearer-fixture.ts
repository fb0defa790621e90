/**
 * Shared setup of the BearerAuthenticator tests: two real issuers and one
 * unreachable one, JWKS caches on a fake clock, and small helpers.
 *
 * - idp: JWKS via discovery, RS256 `rsa-1` + ES256 `ec-1` published, RS256
 *   `rsa-2` held back (for rotation); audience `kestra`; Authorization only.
 * - ci: jwks-uri given, publishes `rsa-1` (another key than idp's!) and
 *   `ci-only`; audience `kestra-api`; Authorization and cookie `id_token`;
 *   groups claim path `groups`.
 * - dead: nobody listens.
 */
import assert from 'node:assert/strict';
import type { JWTPayload, CryptoKey } from 'jose';
import { BearerAuthenticator } from '../../src/authn/bearer-jwt.js';
import type { AuthnResult } from '../../src/authn/authenticator.js';
import { JwksCache } from '../../src/authn/jwks-cache.js';
import type { BearerIssuerConfig } from '../../src/config/types.js';
import { createAuthRequest, type AuthRequest } from '../../src/core/auth-request.js';
import { registry } from '../../src/observability/metrics.js';
import { fakeClock, startJwksServer, unreachableUrl, type JwksServer } from './jwks-server.js';

export const COOLDOWN_MS = 30_000;

export const b64 = (value: unknown): string =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

export function request(headers: Record<string, string>): AuthRequest {
  const req = createAuthRequest({ method: 'GET', path: '/api/v1/main/flows', headers });
  assert.ok(req);
  return req;
}

export const bearer = (token: string): AuthRequest => request({ authorization: `Bearer ${token}` });

/** Current value of an unlabelled counter of the shared registry. */
export async function counter(name: string): Promise<number> {
  const metric = registry.getSingleMetric(name);
  assert.ok(metric, name);
  const { values } = await metric.get();
  return values[0]?.value ?? 0;
}

export function reasonOf(result: AuthnResult): string {
  return result.kind === 'fail' ? result.reason : result.kind;
}

/** RS256 over arbitrary header/payload JSON, for headers jose will not produce. */
export async function signRaw(header: object, payload: object, key: CryptoKey): Promise<string> {
  const input = `${b64(header)}.${b64(payload)}`;
  const signature = await crypto.subtle.sign({ name: 'RSASSA-PKCS1-v1_5' }, key as never, Buffer.from(input));
  return `${input}.${Buffer.from(signature).toString('base64url')}`;
}

export interface BearerFixture {
  readonly clock: ReturnType<typeof fakeClock>;
  readonly idp: JwksServer;
  readonly ci: JwksServer;
  readonly deadIssuer: string;
  /** Shared by every authenticator built here (as the service shares them across reloads). */
  readonly caches: Map<string, JwksCache>;
  readonly issuerConfigs: BearerIssuerConfig[];
  /** An authenticator over the three issuers. */
  readonly auth: BearerAuthenticator;
  /** Claims of a valid idp token at the fake clock's now, with overrides. */
  claims(extra?: JWTPayload): JWTPayload;
  newCache(issuer: string, jwksUri?: string): JwksCache;
  build(issuers: BearerIssuerConfig[], tokenCacheSize?: number): BearerAuthenticator;
  close(): Promise<void>;
}

export async function startBearerFixture(): Promise<BearerFixture> {
  const clock = fakeClock();
  const idp = await startJwksServer();
  const ci = await startJwksServer();
  const deadIssuer = await unreachableUrl();
  await idp.addKey('rsa-1', 'RS256');
  await idp.addKey('ec-1', 'ES256');
  await idp.addKey('rsa-2', 'RS256', { publish: false });
  await ci.addKey('rsa-1', 'RS256');
  await ci.addKey('ci-only', 'RS256');

  const caches = new Map<string, JwksCache>();
  const newCache = (issuer: string, jwksUri?: string) => new JwksCache({
    issuer, jwksUri, algorithms: ['RS256', 'ES256'], maxAgeMs: 600_000, cooldownMs: COOLDOWN_MS, timeoutMs: 2_000, now: clock.now,
  });
  caches.set(idp.issuer, newCache(idp.issuer));
  caches.set(ci.issuer, newCache(ci.issuer, ci.jwksUri));
  caches.set(deadIssuer, newCache(deadIssuer, `${deadIssuer}/jwks`));
  await Promise.all([...caches.values()].map((c) => c.start()));

  const build = (issuers: BearerIssuerConfig[], tokenCacheSize = 1000) => new BearerAuthenticator({
    issuers,
    clockSkewSeconds: 30,
    userClaims: ['preferred_username', 'email'],
    groupsClaimPath: 'resource_access.kestra.roles',
    jwksCaches: caches,
    tokenCacheSize,
    now: clock.now,
  });
  const issuerConfigs: BearerIssuerConfig[] = [
    { issuer: idp.issuer, audiences: ['kestra'], algorithms: ['RS256', 'ES256'], from: [{ header: 'authorization', prefix: 'Bearer ' }] },
    {
      issuer: ci.issuer, audiences: ['kestra-api'], algorithms: ['RS256'], groupsClaimPath: 'groups',
      from: [{ header: 'authorization', prefix: 'Bearer ' }, { cookie: 'id_token' }],
    },
    { issuer: deadIssuer, audiences: ['kestra'], algorithms: ['RS256'], from: [] },
  ];

  return {
    clock, idp, ci, deadIssuer, caches, issuerConfigs, newCache, build,
    auth: build(issuerConfigs),
    claims: (extra = {}) => ({
      iss: idp.issuer,
      sub: 'u-1',
      aud: 'kestra',
      iat: clock.seconds(),
      exp: clock.seconds() + 600,
      preferred_username: 'alice',
      email: 'alice@example.com',
      email_verified: true,
      resource_access: { kestra: { roles: ['kestra-devs', 'ops'] } },
      ...extra,
    }),
    async close() {
      for (const c of caches.values()) c.close();
      await Promise.all([idp.stop(), ci.stop()]);
    },
  };
}
