/**
 * The file-change trigger on a real directory: in-place writes, an editor's
 * rename-over, a Kubernetes ConfigMap `..data` symlink swap — each reloads
 * and flips the verdict; writes to other files in the directory reload nothing.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, rename, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadConfigFile } from '../../src/config/load-config.js';
import { createConfigReloader, type ConfigReloader } from '../../src/server/config-reload.js';
import { concernsConfigFile, watchConfigFile, type ConfigWatcher } from '../../src/server/config-watch.js';
import { createLogger } from '../../src/observability/logger.js';
import { startService } from '../../src/server/service.js';
import { createAuthzClient } from '../helpers/grpc-client.js';
import { envoyCheckRequest } from '../helpers/envoy-check-request.js';
import { configYaml, eventually, startReloadFixture, type ReloadFixture } from './reload-fixture.js';

describe('config file watch', () => {
  let fx: ReloadFixture;
  let watcher: ConfigWatcher;
  let reloads = 0;

  before(async () => {
    fx = await startReloadFixture();
    const reloader = createConfigReloader({ path: fx.configPath, runtime: fx.service.runtime, services: fx.service.services, logger: fx.service.runtime.logger });
    watcher = watchConfigFile(fx.configPath, () => { reloads++; void reloader.reload(); }, { logger: fx.service.runtime.logger });
  });
  after(async () => {
    watcher.close();
    await fx.stop();
  });

  const verdictBecomes = (want: 'allow' | 'deny') => eventually(async () => fx.verdictOf(await fx.probe()) === want);

  test('writing the file in place reloads it', async () => {
    assert.equal(fx.verdictOf(await fx.probe()), 'allow');
    await fx.write(configYaml(fx.dir, { probe: 'deny' }));
    assert.ok(await verdictBecomes('deny'), 'the new rule serves after the write');
  });

  test('an editor replacing the file by rename reloads it', async () => {
    const temp = join(fx.dir, '.config.yaml.swp');
    await writeFile(temp, configYaml(fx.dir, { probe: 'public' }));
    await rename(temp, fx.configPath);
    assert.ok(await verdictBecomes('allow'));
  });

  test('other files in the directory reload nothing', async () => {
    assert.equal(concernsConfigFile('config.yaml', 'users.yaml'), false);
    assert.equal(concernsConfigFile('config.yaml', '.users.yaml.123.tmp'), false);
    assert.equal(concernsConfigFile('config.yaml', 'config.yaml'), true);
    assert.equal(concernsConfigFile('config.yaml', '..data'), true);
    assert.equal(concernsConfigFile('config.yaml', null), true);
    const before = reloads;
    await writeFile(join(fx.dir, 'users.yaml'), 'users: []\n');
    // A real change afterwards proves the watcher is alive; one burst, one reload.
    await fx.write(configYaml(fx.dir, { probe: 'deny' }));
    assert.ok(await verdictBecomes('deny'));
    assert.equal(reloads, before + 1);
    await fx.write(configYaml(fx.dir));
    assert.ok(await verdictBecomes('allow'));
  });

  test('an invalid write keeps serving the old config; fixing the file applies', async () => {
    await fx.write('authz: { default: maybe }\n');
    assert.ok(await eventually(() => fx.logs.some((l) => typeof l.msg === 'string' && l.msg.startsWith('config reload rejected'))));
    assert.equal(fx.verdictOf(await fx.probe()), 'allow');
    await fx.write(configYaml(fx.dir, { probe: 'deny' }));
    assert.ok(await verdictBecomes('deny'));
  });
});

test('a Kubernetes ConfigMap swap (..data symlink re-pointed) reloads the config', async () => {
  const fx = await startReloadFixture();
  // The mount as the kubelet lays it out: config.yaml -> ..data/config.yaml, ..data -> ..<timestamp>.
  const mount = join(fx.dir, 'mount');
  await mkdir(join(mount, '..2024_01_01_v1'), { recursive: true });
  await writeFile(join(mount, '..2024_01_01_v1', 'config.yaml'), configYaml(fx.dir, { probe: 'public' }));
  await symlink('..2024_01_01_v1', join(mount, '..data'));
  await symlink('..data/config.yaml', join(mount, 'config.yaml'));
  const configPath = join(mount, 'config.yaml');

  const logger = createLogger('silent');
  const service = await startService(await loadConfigFile(configPath), { logger });
  const client = createAuthzClient(service.grpcPort);
  let reloader: ConfigReloader | undefined;
  let watcher: ConfigWatcher | undefined;
  try {
    reloader = createConfigReloader({ path: configPath, runtime: service.runtime, services: service.services, logger });
    const r = reloader;
    watcher = watchConfigFile(configPath, () => { void r.reload(); }, { logger });
    const probe = async () => fx.verdictOf(await client.check(envoyCheckRequest({ path: '/probe', headers: { accept: 'application/json' } })));
    assert.equal(await probe(), 'allow');

    // The kubelet's update: a new timestamped dir, a temp link, renamed over ..data.
    await mkdir(join(mount, '..2024_01_01_v2'));
    await writeFile(join(mount, '..2024_01_01_v2', 'config.yaml'), configYaml(fx.dir, { probe: 'deny' }));
    await symlink('..2024_01_01_v2', join(mount, '..data_tmp'));
    await rename(join(mount, '..data_tmp'), join(mount, '..data'));

    assert.ok(await eventually(async () => (await probe()) === 'deny'), 'the swapped config serves');
  } finally {
    watcher?.close();
    client.close();
    await service.close();
    await fx.stop();
  }
});
