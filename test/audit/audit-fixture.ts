/**
 * A real service with the audit log on: the Bearer/Basic test config
 * (bearer-service-config.ts) plus an `authz.audit` section, Basic users made
 * with the real CLI, a real token issuer; reached through its gRPC door and
 * its HTTP door.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { loadConfigFile } from '../../src/config/load-config.js';
import { createLogger } from '../../src/observability/logger.js';
import { startService, type RunningService } from '../../src/server/service.js';
import { bearerServiceYaml } from '../helpers/bearer-service-config.js';
import { createUsersWithCli } from '../helpers/cli-users.js';
import { envoyCheckRequest, type EnvoyCheckRequestInit } from '../helpers/envoy-check-request.js';
import { createAuthzClient, type AuthzClient, type CheckResponseJs } from '../helpers/grpc-client.js';
import { startTokenIssuer, type TokenIssuer } from '../helpers/token-issuer.js';

export const OPS_PASSWORD = 'correct-horse-audit-1';

export interface AuditService {
  readonly dir: string;
  readonly configPath: string;
  /** The audit file (`<dir>/audit.log` unless the test gives another output). */
  readonly output: string;
  readonly service: RunningService;
  readonly issuer: TokenIssuer;
  readonly client: AuthzClient;
  check(init: EnvoyCheckRequestInit): Promise<CheckResponseJs>;
  /** `http://127.0.0.1:<http door port>` */
  readonly httpDoor: string;
  devToken(): Promise<string>;
  basic(user: string, password: string): string;
  /** Stops the service (which writes what its audit log holds); the folder stays until dispose(). */
  stop(): Promise<void>;
  dispose(): Promise<void>;
}

/** The YAML of the test service with `authz.audit` set to `audit` (output relative to the config's folder). */
export function auditConfigYaml(dir: string, issuer: string, audit: Record<string, unknown>, bindings?: Record<string, unknown>[], security?: Record<string, unknown>): string {
  const tree = parse(bearerServiceYaml({ dir, issuer, security })) as { authz: Record<string, unknown> };
  if (bindings !== undefined) tree.authz.bindings = bindings;
  tree.authz.audit = audit;
  return stringify(tree);
}

export interface AuditServiceOptions {
  /** The audit output; `<dir>/audit.log` by default. */
  readonly output?: string;
  /** Further `kestra.security` keys (e.g. another `default-role`). */
  readonly security?: Record<string, unknown>;
}

export async function startAuditService(audit: Record<string, unknown>, options: AuditServiceOptions = {}): Promise<AuditService> {
  const dir = await mkdtemp(join(tmpdir(), 'kauthz-audit-'));
  const issuer = await startTokenIssuer();
  await issuer.addKey('k1');
  const output = options.output ?? join(dir, 'audit.log');
  const configPath = join(dir, 'config.yaml');
  await writeFile(configPath, auditConfigYaml(dir, issuer.issuer, { enabled: true, output, ...audit }, undefined, options.security));
  await writeFile(join(dir, 'users.yaml'), 'users: []\n', { mode: 0o600 });
  await createUsersWithCli(configPath, ['--username', 'ops', '--password', OPS_PASSWORD, '--groups', 'kestra-devs']);
  const service = await startService(await loadConfigFile(configPath), { logger: createLogger('silent') });
  const client = createAuthzClient(service.grpcPort);
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    client.close();
    await service.close();
  };
  return {
    dir,
    configPath,
    output,
    service,
    issuer,
    client,
    check: (init) => client.check(envoyCheckRequest(init)),
    httpDoor: `http://127.0.0.1:${service.httpPort}`,
    devToken: () => issuer.mint({ sub: 'u-dev', preferred_username: 'dev', email: 'dev@example.com', aud: 'kestra', resource_access: { kestra: { roles: ['kestra-devs'] } } }),
    basic: (user, password) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
    stop,
    async dispose() {
      await stop();
      await issuer.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The audit lines of `file`, parsed (every line must be JSON). */
export async function auditLines(file: string): Promise<Record<string, unknown>[]> {
  const text = await readFile(file, 'utf8');
  return text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
}
