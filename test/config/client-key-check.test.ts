/**
 * `config check` reads the key files the service would only read later (a
 * private_key_jwt client's at its first login, the identity token's at start):
 * every unusable one is listed, naming the file and never its content.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configCheckOutput } from '../helpers/config-check.js';
import { oauthClientLines, SECRET, yamlLines } from './config-problems.js';

const CONFIG = yamlLines(
  `kestra: { encryption: { secret-key: "${SECRET}" } }`,
  ...oauthClientLines('llng', 'token: { auth-method: private_key_jwt }'),
  'authz:',
  '  external-url: https://kestra.example.com',
  '  identity-token: { enabled: true, key-file: identity.pem }',
  '  oidc:',
  '    clients:',
  '      llng: { private-key-file: client.pem }',
);

const pemKey = (): string => generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;

test('config check lists every unusable key file (client assertion key and identity-token key), then passes once both read', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kauthz-client-key-check-'));
  try {
    const configPath = join(dir, 'config.yaml');
    await writeFile(configPath, CONFIG);
    const run = () => configCheckOutput(configPath);

    const missing = await run();
    assert.equal(missing.code, 1);
    assert.match(missing.text, /authz\.identity-token\.key-file: .*identity\.pem.*ENOENT/);
    assert.match(missing.text, /authz\.oidc\.clients\.llng\.private-key-file: private-key-file .*client\.pem cannot be read \(ENOENT\)/);

    const garbage = 'not a key, but a secret-looking line: hunter2';
    await writeFile(join(dir, 'client.pem'), garbage);
    await writeFile(join(dir, 'identity.pem'), pemKey());
    const unusable = await run();
    assert.equal(unusable.code, 1);
    assert.match(unusable.text, /authz\.oidc\.clients\.llng\.private-key-file: private-key-file .*client\.pem holds no PEM private key/);
    assert.doesNotMatch(unusable.text, /identity-token/);
    assert.ok(!unusable.text.includes('hunter2'), 'the file content is never printed');

    await writeFile(join(dir, 'client.pem'), pemKey());
    const good = await run();
    assert.equal(good.code, 0, good.text);
    assert.doesNotMatch(good.text, /BEGIN/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
