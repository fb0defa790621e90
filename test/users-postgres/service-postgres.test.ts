/**
 * The whole path an operator uses: `kestra-authz auths users …` run as a real
 * process against PostgreSQL, and a running service (startService) accepting
 * those users over Basic without a restart; then PostgreSQL going away under
 * the running service (a relay the test cuts): 503 store_unavailable, the
 * process stays up, and it recovers by itself.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { loadConfigFile } from '../../src/config/load-config.js';
import { startService, type RunningService } from '../../src/server/service.js';
import { PostgresLockoutStore } from '../../src/stores/lockout-postgres.js';
import { dropSchema, newSchemaName, postgresSkipReason, startPostgresRelay, storeUrl, type PostgresRelay } from './pg-fixture.js';

const skip = await postgresSkipReason();
const CLI = fileURLToPath(new URL('../../../bin/kestra-authz.js', import.meta.url));
const FLOW = '/ext_authz/api/v1/main/flows/company.team/hello';

function configYaml(url: string): string {
  return stringify({
    kestra: {
      encryption: { 'secret-key': '0123456789abcdef0123456789abcdef-test' },
      security: {
        'default-role': { name: 'viewer', permissions: { FLOW: ['READ'] } },
        login: { 'failed-attempts': { threshold: 5, 'monitoring-window': 'PT5M', 'lock-duration': 'PT30M' } },
      },
    },
    authz: {
      listen: { grpc: '127.0.0.1:0', http: '127.0.0.1:0', management: '127.0.0.1:0' },
      users: { store: 'postgres', url },
      log: { level: 'silent' },
    },
  });
}

/** `kestra-authz auths users <args> --config <config>` as a separate process; it must exit by itself. */
function cli(config: string, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [CLI, 'auths', 'users', ...args, '--config', config], { timeout: 30_000 }, (error, out, err) => {
      if (error && typeof error.code !== 'number') return reject(error); // killed by the timeout: the pool kept it alive
      resolve({ code: typeof error?.code === 'number' ? error.code : 0, out, err });
    });
  });
}

async function ask(service: RunningService, user: string, password: string): Promise<{ status: number; error?: string }> {
  const res = await fetch(`http://127.0.0.1:${service.httpPort}${FLOW}`, {
    headers: { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`, accept: 'application/json' },
  });
  const text = await res.text();
  const error = res.status === 200 ? undefined : (JSON.parse(text) as { error?: string }).error;
  return { status: res.status, ...(error ? { error } : {}) };
}

describe('auths users CLI and a running service on PostgreSQL', { skip }, () => {
  const schema = newSchemaName();
  let dir: string;
  let config: string;
  let service: RunningService;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kauthz-pg-'));
    config = join(dir, 'config.yaml');
    await writeFile(config, configYaml(storeUrl(schema)));
    const created = await cli(config, 'create', '--username', 'ops', '--password', 'correct-horse-1', '--groups', 'kestra-devs');
    assert.equal(created.code, 0, created.err);
    service = await startService(await loadConfigFile(config));
  });
  after(async () => {
    await service?.close();
    await rm(dir, { recursive: true, force: true });
    await dropSchema(schema);
  });

  test('a user created by the CLI before start is accepted; a wrong password is 401', async () => {
    assert.deepEqual(await ask(service, 'ops', 'correct-horse-1'), { status: 200 });
    assert.deepEqual(await ask(service, 'ops', 'wrong-password'), { status: 401, error: 'basic_bad_credentials' });
  });

  test('a user created by the CLI while the service runs is accepted without restart', async () => {
    assert.deepEqual(await ask(service, 'late', 'late-pass-123'), { status: 401, error: 'basic_bad_credentials' });
    const created = await cli(config, 'create', 'late', 'late-pass-123', '--tenant', 'main');
    assert.equal(created.code, 0, created.err);
    assert.deepEqual(await ask(service, 'late', 'late-pass-123'), { status: 200 });
    const again = await cli(config, 'create', 'late', 'late-pass-123');
    assert.equal(again.code, 1);
    assert.match(again.err, /already exists/);
  });

  test('set-password by the CLI: the old password is refused at once, the new one accepted', async () => {
    assert.deepEqual(await ask(service, 'ops', 'correct-horse-1'), { status: 200 }); // now in the verification cache
    const changed = await cli(config, 'set-password', 'ops', 'battery-staple-2');
    assert.equal(changed.code, 0, changed.err);
    assert.deepEqual(await ask(service, 'ops', 'correct-horse-1'), { status: 401, error: 'basic_bad_credentials' });
    assert.deepEqual(await ask(service, 'ops', 'battery-staple-2'), { status: 200 });
  });

  test('list and delete by the CLI; a deleted user is refused; no hash or password is printed', async () => {
    const listed = await cli(config, 'list');
    assert.equal(listed.code, 0, listed.err);
    assert.match(listed.out, /ops/);
    assert.match(listed.out, /late/);
    assert.doesNotMatch(listed.out + listed.err, /scrypt|battery-staple|late-pass/);
    const deleted = await cli(config, 'delete', 'late');
    assert.equal(deleted.code, 0, deleted.err);
    assert.deepEqual(await ask(service, 'late', 'late-pass-123'), { status: 401, error: 'basic_bad_credentials' });
    const missing = await cli(config, 'delete', 'late');
    assert.equal(missing.code, 1);
  });
});

describe('two running services on one PostgreSQL share the lockout', { skip }, () => {
  const schema = newSchemaName();
  let dir: string;
  const services: RunningService[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kauthz-pg-lock-'));
    const config = join(dir, 'config.yaml');
    await writeFile(config, configYaml(storeUrl(schema)));
    assert.equal((await cli(config, 'create', 'ops', 'correct-horse-1')).code, 0);
    for (let i = 0; i < 2; i++) services.push(await startService(await loadConfigFile(config)));
  });
  after(async () => {
    for (const service of services) await service.close();
    await rm(dir, { recursive: true, force: true });
    await dropSchema(schema);
  });

  test('threshold failures spread over two replicas lock the user on both', async (t) => {
    // Wiring is build-engine.ts's job (openLockoutStore); until it is done this cannot hold, so say so.
    if (!services.every((s) => s.services.lockout instanceof PostgresLockoutStore)) {
      t.skip('build-engine.ts does not use openLockoutStore yet: each replica still counts in memory');
      return;
    }
    const [a, b] = services as [RunningService, RunningService];
    for (const replica of [a, b, a, b, a]) {
      assert.deepEqual(await ask(replica, 'ops', 'wrong-password'), { status: 401, error: 'basic_bad_credentials' });
    }
    assert.deepEqual(await ask(b, 'ops', 'correct-horse-1'), { status: 401, error: 'basic_locked_out' });
    assert.deepEqual(await ask(a, 'ops', 'correct-horse-1'), { status: 401, error: 'basic_locked_out' });
  });
});

describe('a running service when PostgreSQL goes away', { skip }, () => {
  const schema = newSchemaName();
  let dir: string;
  let relay: PostgresRelay;
  let service: RunningService;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kauthz-pg-down-'));
    relay = await startPostgresRelay();
    const config = join(dir, 'config.yaml');
    await writeFile(config, configYaml(storeUrl(schema, relay.hostPort)));
    assert.equal((await cli(config, 'create', 'ops', 'correct-horse-1')).code, 0);
    service = await startService(await loadConfigFile(config));
  });
  after(async () => {
    await service?.close();
    await relay?.close();
    await rm(dir, { recursive: true, force: true });
    await dropSchema(schema);
  });

  test('store down → 503 store_unavailable (never an allow), the process stays up, then recovery', async () => {
    assert.deepEqual(await ask(service, 'ops', 'correct-horse-1'), { status: 200 });
    await relay.cut();
    for (const password of ['correct-horse-1', 'wrong-password']) {
      assert.deepEqual(await ask(service, 'ops', password), { status: 503, error: 'store_unavailable' });
    }
    const health = await fetch(`http://127.0.0.1:${service.managementPort}/healthz`);
    assert.equal(health.status, 200, 'the process is alive and answering');
    const metrics = await (await fetch(`http://127.0.0.1:${service.managementPort}/metrics`)).text();
    // The first query of a Basic check is the lock check (shared lockout) or the user look-up (memory lockout).
    assert.match(metrics, /kestra_authz_store_errors_total\{store="postgres",op="(lockout_check|get)"\} [1-9]/);
    assert.doesNotMatch(metrics, /correct-horse/);
    await relay.restore();
    // The pool reconnects on the next query; no restart.
    assert.deepEqual(await ask(service, 'ops', 'correct-horse-1'), { status: 200 });
  });
});
