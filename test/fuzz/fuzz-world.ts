/**
 * The world the fuzz properties run in, shared by test/fuzz/fuzz.test.ts and
 * bench/fuzz-long.ts: a real token issuer on 127.0.0.1 (JWKS + discovery), a
 * users file, a config where EVERY route needs a credential (no public rule,
 * no built-in Kestra rules, `default: authenticated`, no default role), the
 * Engine built from it exactly as the service builds it, and the credentials
 * the fuzzer starts from (fuzz-credentials.ts).
 *
 * Lockout is effectively off (threshold 1 000 000): a fuzzed wrong password
 * must not lock the real user, or valid Basic requests could never be allowed
 * and property (c) would be checked on denials only.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { loadConfigFile } from '../../src/config/load-config.js';
import type { Config } from '../../src/config/types.js';
import type { Engine } from '../../src/core/decide.js';
import { createLogger } from '../../src/observability/logger.js';
import { buildEngine, createEngineServices, type EngineServices } from '../../src/server/build-engine.js';
import { startService, type RunningService } from '../../src/server/service.js';
import { startTokenIssuer, type TokenIssuer } from '../helpers/token-issuer.js';
import { cheapPasswordHash, mintCredentials, FUZZ_USERS, type KnownCredentials } from './fuzz-credentials.js';

/** The OIDC provider's name (`/oauth/login/fuzzidp`); its IdP is the token issuer, which serves discovery. */
export const FUZZ_PROVIDER = 'fuzzidp';
export const FUZZ_HOST = 'kestra.example.com';

export interface FuzzWorld {
  readonly config: Config;
  readonly configPath: string;
  readonly engine: Engine;
  readonly credentials: KnownCredentials;
  /** The real service (gRPC, HTTP, management doors) on free ports, started on first call. */
  service(): Promise<RunningService>;
  close(): Promise<void>;
}

function fuzzConfigYaml(dir: string, issuer: string): string {
  return stringify({
    kestra: {
      encryption: { 'secret-key': 'fuzz-only-secret-0123456789abcdef0123456789' },
      security: {
        oidc: { 'groups-claim-path': 'groups' },
        login: { 'failed-attempts': { threshold: 1_000_000, 'monitoring-window': 'PT1S', 'lock-duration': 'PT1S' } },
      },
    },
    micronaut: {
      security: {
        oauth2: {
          enabled: true,
          clients: { [FUZZ_PROVIDER]: { 'client-id': 'kestra', 'client-secret': 'fuzz-client-secret', openid: { issuer } } },
        },
        endpoints: { logout: { 'get-allowed': true } },
      },
    },
    authz: {
      'external-url': `https://${FUZZ_HOST}`,
      listen: { grpc: '127.0.0.1:0', http: '127.0.0.1:0', management: '127.0.0.1:0' },
      oidc: { 'allow-insecure-http-issuers': true },
      bearer: {
        issuers: [{
          issuer,
          audiences: ['kestra'],
          from: [{ header: 'authorization', prefix: 'Bearer ' }, { cookie: 'id_token' }],
        }],
      },
      users: { file: join(dir, 'users.yaml') },
      // Per-address lockout off for the same reason as the per-user one: every fuzz request comes from one address.
      'source-lockout': { enabled: false },
      roles: [{ name: 'developer', permissions: { FLOW: ['READ', 'UPDATE'], EXECUTION: ['READ'] } }],
      bindings: [{ group: 'kestra-devs', role: 'developer', namespace: 'company.team' }],
      // No rule is public: an allow always needs an identity.
      rules: [
        { match: { path: '/admin/**' }, allow: 'deny' },
        { match: { methods: ['GET', 'HEAD'], path: '/api/v1/{tenant}/flows/{namespace}/**' }, require: 'FLOW:READ' },
        { match: { path: '/api/v1/{tenant}/flows/{namespace}/**' }, require: 'FLOW:UPDATE' },
        { match: { path: '/api/v1/{tenant}/executions/**' }, require: 'EXECUTION:READ' },
        { match: { path: '/api/v1/{tenant}/secrets/**' }, require: 'SECRET:READ' },
      ],
      'kestra-rules': false,
      default: 'authenticated',
      log: { level: 'silent' },
    },
  });
}

export async function createFuzzWorld(): Promise<FuzzWorld> {
  const dir = mkdtempSync(join(tmpdir(), 'kauthz-fuzz-'));
  const issuers: TokenIssuer[] = [];
  let services: EngineServices | undefined;
  let running: Promise<RunningService> | undefined;
  try {
    const issuer = await startTokenIssuer();
    issuers.push(issuer);
    // A second, untrusted issuer: its keys forge tokens that claim the trusted issuer and reuse its kid.
    const forger = await startTokenIssuer();
    issuers.push(forger);

    const users = await Promise.all(FUZZ_USERS.map(async (u) => ({
      username: u.username,
      'password-hash': await cheapPasswordHash(u.password),
      groups: [...u.groups],
      ...(u.tenant ? { tenant: u.tenant } : {}),
    })));
    writeFileSync(join(dir, 'users.yaml'), stringify({ users }), { mode: 0o600 });
    const configPath = join(dir, 'fuzz-config.yaml');
    writeFileSync(configPath, fuzzConfigYaml(dir, issuer.issuer), { mode: 0o600 });

    const config = await loadConfigFile(configPath);
    // Keys first: the JWKS fetched at warm-up must already hold them (a refetch waits out a cooldown).
    const passwordHashes = new Map(users.map((u) => [u.username, u['password-hash']] as const));
    const credentials = await mintCredentials({ config, issuer, forger, provider: FUZZ_PROVIDER, passwordHashes });
    const logger = createLogger('silent');
    services = createEngineServices(config, logger);
    await services.warmUp();
    const engine = buildEngine(config, services);

    const engineServices = services;
    return {
      config,
      configPath,
      engine,
      credentials,
      service() {
        running ??= startService(config, { logger });
        return running;
      },
      async close() {
        if (running) await (await running).close();
        await engineServices.close();
        await Promise.all(issuers.map((i) => i.stop()));
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await services?.close();
    await Promise.all(issuers.map((i) => i.stop()));
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
