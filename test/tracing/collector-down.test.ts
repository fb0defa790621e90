/**
 * The collector is not there, or hangs: decisions are exactly what they are
 * with tracing off, answers never wait for an export, and the failure is
 * logged — once per interval, without the collector credential.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { parse, stringify } from 'yaml';
import { loadConfigFile } from '../../src/config/load-config.js';
import { createLogger } from '../../src/observability/logger.js';
import { startService, type RunningService } from '../../src/server/service.js';
import { bearerServiceYaml } from '../helpers/bearer-service-config.js';
import { envoyCheckRequest, type EnvoyCheckRequestInit } from '../helpers/envoy-check-request.js';
import { freePort } from '../helpers/free-port.js';
import { createAuthzClient, type AuthzClient } from '../helpers/grpc-client.js';
import { expectAllowed, expectDenied } from '../helpers/grpc-door.js';
import { startTokenIssuer, type TokenIssuer } from '../helpers/token-issuer.js';

const COLLECTOR_CREDENTIAL = 'Bearer collector-credential-down-8d2e';

/** A TCP "collector" that accepts and never answers, until told to drop every connection. */
async function startHangingCollector(): Promise<{ port: number; connections: () => number; drop(): void; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server: Server = createServer((socket) => {
    accepted += 1;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const drop = () => { for (const s of sockets) s.destroy(); };
  return {
    port: (server.address() as { port: number }).port,
    connections: () => accepted,
    drop,
    close: () => new Promise<void>((resolve) => { drop(); server.close(() => resolve()); }),
  };
}

async function until(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('tracing with the collector down', () => {
  let dir: string;
  let issuer: TokenIssuer;
  let token: string;
  const logLines: string[] = [];
  const started: { service: RunningService; client: AuthzClient }[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kauthz-tracing-down-'));
    issuer = await startTokenIssuer();
    await issuer.addKey('k1');
    token = await issuer.mint({ sub: 'u-dev', preferred_username: 'dev', aud: 'kestra', resource_access: { kestra: { roles: ['kestra-devs'] } } }, { kid: 'k1' });
  });

  after(async () => {
    for (const { service, client } of started) {
      client.close();
      await service.close();
    }
    await issuer?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  async function start(endpoint: string, timeout: string): Promise<{ service: RunningService; check: (init: EnvoyCheckRequestInit) => ReturnType<AuthzClient['check']> }> {
    const config = parse(bearerServiceYaml({ dir, issuer: issuer.issuer })) as { authz: Record<string, unknown> };
    config.authz.tracing = { enabled: true, otlp: { endpoint, timeout, headers: { authorization: COLLECTOR_CREDENTIAL } } };
    const path = join(dir, `config-${started.length}.yaml`);
    await writeFile(path, stringify(config));
    const sink = new Writable({ write(chunk: Buffer, _enc, done) { logLines.push(...chunk.toString('utf8').split('\n').filter(Boolean)); done(); } });
    const service = await startService(await loadConfigFile(path), { logger: createLogger('info', sink) });
    const client = createAuthzClient(service.grpcPort);
    started.push({ service, client });
    return { service, check: (init) => client.check(envoyCheckRequest({ ...init, headers: { ...init.headers, traceparent: `00-${'ab'.repeat(16)}-${'cd'.repeat(8)}-01` } })) };
  }

  /** The same three answers as with tracing off (see test/e2e/grpc-check.test.ts). */
  async function decisionsAreCorrect(check: (init: EnvoyCheckRequestInit) => ReturnType<AuthzClient['check']>): Promise<void> {
    expectAllowed(await check({ method: 'GET', path: '/api/v1/main/flows/company.team/hello', headers: { authorization: `Bearer ${token}` } }));
    expectDenied(await check({ method: 'DELETE', path: '/api/v1/main/flows/company.other/hello', headers: { authorization: `Bearer ${token}` } }), 403);
    expectDenied(await check({ method: 'GET', path: '/api/v1/main/flows/company.team/hello', headers: { accept: 'application/json' } }), 401);
    expectAllowed(await check({ method: 'GET', path: '/healthz' }));
  }

  const exportWarnings = () => logLines.filter((line) => line.includes('trace export failed'));

  test('nothing listening: decisions unchanged; one rate-limited warning for several failed exports', async () => {
    const port = await freePort();
    const { service, check } = await start(`http://127.0.0.1:${port}/v1/traces`, '1s');
    for (let round = 0; round < 3; round++) {
      await decisionsAreCorrect(check);
      await service.runtime.tracer!.flush();
    }
    await until(() => exportWarnings().length > 0, 'the export warning');
    assert.equal(exportWarnings().length, 1, 'three failed exports within the interval → one line');
    const warning = JSON.parse(exportWarnings()[0]!) as { level: string; endpoint: string; droppedSpans: number; failedExports: number };
    assert.equal(warning.level, 'warn');
    assert.equal(warning.endpoint, `http://127.0.0.1:${port}/v1/traces`);
    assert.ok(warning.droppedSpans >= 1);
    const all = logLines.join('\n');
    assert.ok(!all.includes(COLLECTOR_CREDENTIAL) && !all.includes('collector-credential'), 'the collector credential is never logged');
    assert.ok(!all.includes(token), 'no token in logs');
  });

  test('a collector that hangs: Checks are answered while the export is still pending', async () => {
    const collector = await startHangingCollector();
    try {
      const { service, check } = await start(`http://127.0.0.1:${collector.port}/v1/traces`, '120s');
      await decisionsAreCorrect(check);
      let flushed = false;
      const flushing = service.runtime.tracer!.flush().then(() => { flushed = true; });
      await until(() => collector.connections() > 0, 'the exporter to connect');
      await decisionsAreCorrect(check);
      assert.equal(flushed, false, 'the export is still waiting for the collector');
      collector.drop();
      await flushing;
      await decisionsAreCorrect(check);
    } finally {
      await collector.close();
    }
  });
});
