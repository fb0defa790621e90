/**
 * The real service started from a real config file in a temp dir, with a
 * logger whose lines the test can read, plus helpers to rewrite the file,
 * ask the gRPC door about `/probe`, and read the management port.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { loadConfigFile } from '../../src/config/load-config.js';
import { createLogger } from '../../src/observability/logger.js';
import { startService, type RunningService } from '../../src/server/service.js';
import { createAuthzClient, type AuthzClient, type CheckResponseJs } from '../helpers/grpc-client.js';
import { envoyCheckRequest } from '../helpers/envoy-check-request.js';

export const SECRET = 'reload-test-secret-0123456789abcdef-XYZ';

export type ProbeVerdict = 'public' | 'deny';

export interface ConfigOptions {
  /** What `/probe` gets (default public). */
  readonly probe?: ProbeVerdict;
  /** Extra YAML lines under `authz:` (two-space indented). */
  readonly authzExtra?: string;
  /** Users file (default users.yaml in the temp dir). */
  readonly usersFile?: string;
}

export function configYaml(dir: string, options: ConfigOptions = {}): string {
  return `
kestra:
  encryption:
    secret-key: "${SECRET}"
authz:
  listen: { grpc: 127.0.0.1:0, http: 127.0.0.1:0, management: 127.0.0.1:0 }
  users: { file: ${options.usersFile ?? join(dir, 'users.yaml')} }
  rules:
    - { id: probe, match: { path: "/probe" }, allow: ${options.probe ?? 'public'} }
${options.authzExtra ?? ''}
  log: { level: info }
`;
}

/** A config the loader rejects: an unknown authz key, a bad default and a short secret. */
export const INVALID_YAML = `
kestra:
  encryption:
    secret-key: "short-but-secret-VALUE"
authz:
  no-such-key: 1
  default: maybe
`;

export interface ReloadFixture {
  readonly dir: string;
  readonly configPath: string;
  readonly service: RunningService;
  readonly client: AuthzClient;
  /** Every log line so far, parsed. */
  readonly logs: Record<string, unknown>[];
  /** The raw log text, to prove a secret never reached it. */
  logText(): string;
  write(text: string): Promise<void>;
  probe(): Promise<CheckResponseJs>;
  /** 'allow' | 'deny' for a well-formed answer; throws on anything else. */
  verdictOf(res: CheckResponseJs): 'allow' | 'deny';
  metric(name: string, labels?: string): Promise<number | undefined>;
  readyz(): Promise<{ status: number; body: Record<string, unknown> }>;
  stop(): Promise<void>;
}

export async function startReloadFixture(options: ConfigOptions & { readinessIntervalMs?: number } = {}): Promise<ReloadFixture> {
  const dir = await mkdtemp(join(tmpdir(), 'kauthz-reload-'));
  const configPath = join(dir, 'config.yaml');
  await writeFile(configPath, configYaml(dir, options));
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  const logger = createLogger('info', sink);
  const service = await startService(await loadConfigFile(configPath), { logger, readinessIntervalMs: options.readinessIntervalMs });
  const client = createAuthzClient(service.grpcPort);
  const mgmt = `http://127.0.0.1:${service.managementPort}`;

  return {
    dir,
    configPath,
    service,
    client,
    get logs() {
      return chunks.join('').split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
    },
    logText: () => chunks.join(''),
    write: (text) => writeFile(configPath, text),
    probe: () => client.check(envoyCheckRequest({ path: '/probe', headers: { accept: 'application/json' } })),
    verdictOf(res) {
      if (res.ok_response && (res.status?.code ?? 0) === 0) return 'allow';
      assert.ok(res.denied_response, `neither allow nor denial: ${JSON.stringify(res)}`);
      assert.equal(res.denied_response.status?.code, 403, `unexpected denial: ${JSON.stringify(res)}`);
      assert.equal((JSON.parse(res.denied_response.body ?? '{}') as { error?: string }).error !== undefined, true);
      return 'deny';
    },
    async metric(name, labels = '') {
      const text = await (await fetch(`${mgmt}/metrics`)).text();
      const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
      return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
    },
    async readyz() {
      const res = await fetch(`${mgmt}/readyz`);
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    },
    async stop() {
      client.close();
      await service.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Polls `condition` every 50 ms until it holds or `attempts` run out (no wall-clock assertion). */
export async function eventually(condition: () => Promise<boolean> | boolean, attempts = 200): Promise<boolean> {
  for (let i = 0; i < attempts; i++) {
    if (await condition()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}
