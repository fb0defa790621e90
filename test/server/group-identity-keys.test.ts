/**
 * The JWKS a `serve --workers N` primary publishes on the management port
 * (src/server/group-identity-keys.ts), from real config and key files: the
 * key file's keys with the kids a worker gives them; a rotation reloaded
 * (call or file watch) puts the new key first and keeps the replaced one
 * until its tokens expired; a reload that does not load keeps the keys; off,
 * or on without a key file, publishes nothing (404).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfigFile } from '../../src/config/load-config.js';
import { installIdentityKeys } from '../../src/identity/identity-token-setup.js';
import { IdentityKeyRing, RETIRE_MARGIN_MS } from '../../src/identity/key-ring.js';
import { SigningKeyError } from '../../src/identity/signing-keys.js';
import { createLogger } from '../../src/observability/logger.js';
import { startGroupIdentityKeys, type GroupIdentityKeys } from '../../src/server/group-identity-keys.js';
import { pollUntil } from '../helpers/poll.js';

const pkcs8 = () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
const silent = createLogger('silent');

let dir: string;
before(async () => { dir = await mkdtemp(join(tmpdir(), 'kauthz-group-keys-')); });
after(async () => { if (dir) await rm(dir, { recursive: true, force: true }); });

/** A config file with the identity token as `token` (YAML flow mapping, or undefined: no such key). */
async function writeConfig(name: string, token: string | undefined): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, [
    'kestra:',
    '  encryption: { secret-key: "0123456789abcdef0123456789abcdef-test" }',
    'authz:',
    '  external-url: https://kestra.example.com',
    `  users: { file: ${join(dir, 'users.yaml')} }`,
    ...(token === undefined ? [] : [`  identity-token: ${token}`]),
    '',
  ].join('\n'));
  return path;
}
const kids = (keys: GroupIdentityKeys): string[] | undefined => keys.published()?.jwks().kids.slice();

test('the key file\'s keys, with the kids a worker\'s ring gives them; a rotation reloaded keeps the replaced key until its tokens expired', async () => {
  const keyFile = join(dir, 'rotate.pem');
  await writeFile(keyFile, pkcs8());
  const path = await writeConfig('rotate.yaml', '{ enabled: true, key-file: rotate.pem, ttl: 60s }');
  let now = 1_000_000;
  const keys = startGroupIdentityKeys({ config: await loadConfigFile(path), path, logger: silent, now: () => now });
  try {
    // What a worker publishes from the same config.
    const worker = new IdentityKeyRing();
    assert.equal(installIdentityKeys(await loadConfigFile(path), worker), true);
    assert.equal(keys.published()!.jwks().body, worker.jwks().body);
    const [oldKid] = kids(keys)!;

    await writeFile(keyFile, pkcs8());
    await keys.reload();
    const rotated = kids(keys)!;
    assert.equal(rotated.length, 2);
    assert.notEqual(rotated[0], oldKid, 'the new key first');
    assert.equal(rotated[1], oldKid, 'the replaced one still published');

    // A reload that fails (the workers reject it too) keeps what is published.
    await writeFile(keyFile, 'not a key');
    await keys.reload();
    assert.deepEqual(kids(keys), rotated);

    now += 60_000 + RETIRE_MARGIN_MS - 1;
    assert.deepEqual(kids(keys), rotated, 'until every token the old key signed has expired');
    now += 1;
    assert.deepEqual(kids(keys), [rotated[0]], 'then no longer');
  } finally {
    keys.close();
  }
});

test('a change of the config file is reloaded (the watch, as in a worker): off → nothing published, back on → the keys', async () => {
  await writeFile(join(dir, 'watch.pem'), pkcs8());
  const on = '{ enabled: true, key-file: watch.pem }';
  const path = await writeConfig('watch.yaml', on);
  const keys = startGroupIdentityKeys({ config: await loadConfigFile(path), path, logger: silent });
  try {
    const published = kids(keys);
    assert.equal(published?.length, 1);
    await writeConfig('watch.yaml', '{ enabled: false, key-file: watch.pem }');
    assert.equal(await pollUntil(async () => keys.published(), (ring) => ring === undefined, { timeoutMs: 10_000, intervalMs: 50 }), undefined, 'off: 404');
    await writeConfig('watch.yaml', on);
    assert.deepEqual(await pollUntil(async () => kids(keys), (k) => k !== undefined, { timeoutMs: 10_000, intervalMs: 50 }), published);
  } finally {
    keys.close();
  }
});

test('on without a key file (each worker would generate its own key): nothing published; the embedded default (no file): nothing to reload', async () => {
  const path = await writeConfig('generated.yaml', '{ enabled: true }');
  const keys = startGroupIdentityKeys({ config: await loadConfigFile(path), logger: silent });
  try {
    assert.equal(keys.published(), undefined);
    await keys.reload();
    assert.equal(keys.published(), undefined);
  } finally {
    keys.close();
  }
  const off = await writeConfig('off.yaml', undefined);
  const none = startGroupIdentityKeys({ config: await loadConfigFile(off), path: off, logger: silent });
  assert.equal(none.published(), undefined);
  none.close();
});

test('a key file that cannot be used at start is refused there, as each worker would refuse it', async () => {
  await writeFile(join(dir, 'bad.pem'), 'not a key');
  const path = await writeConfig('bad.yaml', '{ enabled: true, key-file: bad.pem }');
  const config = await loadConfigFile(path);
  assert.throws(() => startGroupIdentityKeys({ config, path, logger: silent }), (err) => err instanceof SigningKeyError && /bad\.pem/.test(err.message) && !/not a key/.test(err.message));
});
