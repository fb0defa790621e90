/** loadConfigFile against real files in a temp dir. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfigFile } from '../../src/config/load-config.js';
import { AuthzError, ConfigError } from '../../src/core/errors.js';
import { SECRET } from './config-problems.js';

describe('loadConfigFile', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kestra-authz-config-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('relative users file resolves against the config file directory', async () => {
    await mkdir(join(dir, 'etc'));
    const path = join(dir, 'etc', 'authz.yaml');
    await writeFile(path, `kestra: { encryption: { secret-key: "${SECRET}" } }\nauthz:\n  users: { file: ../data/users.yaml }\n`);
    const config = await loadConfigFile(path, {});
    assert.deepEqual(config.users, { store: 'file', file: join(dir, 'data', 'users.yaml') });
    assert.equal(config.source, path);
  });

  test('a missing file is ERR_CONFIG_READ', async () => {
    await assert.rejects(loadConfigFile(join(dir, 'nope.yaml'), {}), (err: unknown) => {
      assert.ok(err instanceof AuthzError);
      assert.ok(!(err instanceof ConfigError));
      assert.equal(err.code, 'ERR_CONFIG_READ');
      assert.match(err.message, /ENOENT/);
      return true;
    });
  });

  test('a directory is ERR_CONFIG_READ', async () => {
    await assert.rejects(loadConfigFile(dir, {}), (err: unknown) => err instanceof AuthzError && err.code === 'ERR_CONFIG_READ');
  });

  test('an invalid file is ERR_CONFIG_INVALID naming the file, every key and line', async () => {
    const path = join(dir, 'bad.yaml');
    await writeFile(path, 'authz:\n  default: nope\n  colour: blue\n');
    await assert.rejects(loadConfigFile(path, {}), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.file, path);
      assert.match(err.message, /2 problems/);
      assert.ok(err.message.includes(`${path}:2: authz.default:`));
      assert.ok(err.message.includes(`${path}:3: authz.colour:`));
      return true;
    });
  });

  test('an empty file is a valid all-defaults config (with the ephemeral-secret warning)', async () => {
    const path = join(dir, 'empty.yaml');
    await writeFile(path, '# nothing yet\n');
    const config = await loadConfigFile(path, {});
    assert.equal(config.secrets.ephemeral, true);
    assert.equal(config.default, 'authenticated');
  });
});
