/**
 * Readiness follows the stores: the users file replaced by a directory (the
 * file store then fails closed; root ignores chmod, so no chmod 000) turns
 * /readyz into 503 naming `users` and gRPC health into NOT_SERVING; putting
 * the file back turns both to ready. A rejected reload never makes the
 * service unready.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DependencyHealth } from '../../src/server/dependency-health.js';
import { createConfigReloader } from '../../src/server/config-reload.js';
import { eventually, INVALID_YAML, startReloadFixture } from './reload-fixture.js';

test('a failing users store flips /readyz and gRPC health, and back when it recovers', async () => {
  const fx = await startReloadFixture({ readinessIntervalMs: 100 });
  const usersFile = join(fx.dir, 'users.yaml');
  try {
    await writeFile(usersFile, 'users: []\n');
    assert.deepEqual(await fx.readyz(), { status: 200, body: { status: 'ready' } });
    assert.equal(await fx.client.health(''), 'SERVING');

    await rm(usersFile);
    await mkdir(usersFile);
    assert.ok(await eventually(async () => (await fx.readyz()).status === 503), '/readyz turns 503');
    assert.deepEqual((await fx.readyz()).body, { status: 'not ready', failing: ['users'] });
    assert.ok(await eventually(async () => (await fx.client.health('')) === 'NOT_SERVING'));
    assert.equal(await fx.client.health('envoy.service.auth.v3.Authorization'), 'NOT_SERVING');
    assert.ok(fx.logs.some((l) => l.msg === 'not ready: a dependency is failing' && JSON.stringify(l.failing) === '["users"]'));

    await rm(usersFile, { recursive: true });
    await writeFile(usersFile, 'users: []\n');
    assert.ok(await eventually(async () => (await fx.readyz()).status === 200), '/readyz back to 200');
    assert.ok(await eventually(async () => (await fx.client.health('')) === 'SERVING'));
    assert.equal(await fx.client.health('envoy.service.auth.v3.Authorization'), 'SERVING');

    // A rejected config is not a failing dependency: the last good config serves.
    const reloader = createConfigReloader({ path: fx.configPath, runtime: fx.service.runtime, services: fx.service.services, logger: fx.service.runtime.logger });
    await fx.write(INVALID_YAML);
    assert.equal(await reloader.reload(), 'failure');
    assert.equal((await fx.readyz()).status, 200);
    assert.equal(await fx.client.health(''), 'SERVING');
  } finally {
    await fx.stop();
  }
});

test('DependencyHealth: throwing, false and hung probes fail; names only, in order', async () => {
  const health = new DependencyHealth();
  let sessionsUp = false;
  health.add('users', () => true);
  health.add('sessions', () => sessionsUp);
  health.add('cache', () => { throw new Error('down'); });
  health.add('slow', () => new Promise<boolean>(() => {}));
  assert.ok(health.healthy(), 'healthy until a poll says otherwise');
  assert.deepEqual(await health.poll(50), ['sessions', 'cache', 'slow']);
  assert.equal(health.healthy(), false);
  sessionsUp = true;
  assert.deepEqual(await health.poll(50), ['cache', 'slow']);
  assert.throws(() => health.add('Bad Name', () => true), TypeError);
});
