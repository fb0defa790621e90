/**
 * `authz.identity-token.*` and rules' `identity-audience`: defaults, values
 * as written, and every mistake named with its key and line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configCheckOutput } from '../helpers/config-check.js';
import { load, problemsOf, SECRET, where, yamlLines } from './config-problems.js';

const head = [`kestra: { encryption: { secret-key: "${SECRET}" } }`, 'authz:'];

test('off by default: header x-kestra-identity, ES256, 60 s, generated key, host audience', () => {
  const config = load(yamlLines(...head, '  default: deny'));
  assert.deepEqual(config.identityToken, { enabled: false, header: 'x-kestra-identity', algorithm: 'ES256', ttlSeconds: 60 });
});

test('values as written; key-file relative to the config; authz.headers.identity names the header', () => {
  const config = load(yamlLines(...head,
    '  external-url: https://kestra.example.com',
    '  identity-token: { enabled: true, header: X-Signed-Identity, algorithm: rs256, key-file: keys/identity.pem, ttl: 2m, audience: kestra }',
    '  rules:',
    '    - { match: { path: /reports/** }, allow: authenticated, identity-audience: reports }',
  ));
  assert.deepEqual(config.identityToken, {
    enabled: true, header: 'x-signed-identity', algorithm: 'RS256', keyFile: '/srv/authz/keys/identity.pem', ttlSeconds: 120, audience: 'kestra',
  });
  assert.equal(config.rules[0]!.identityAudience, 'reports');
  assert.equal(load(yamlLines(...head, '  headers: { identity: X-Id-Token }')).identityToken.header, 'x-id-token');
});

test('mistakes: no external-url, two names for the header, a clash with another identity header, bad values', () => {
  assert.deepEqual(where(problemsOf(yamlLines(...head, '  identity-token: { enabled: true }'))), [['authz.identity-token.enabled', 3]]);
  assert.match(problemsOf(yamlLines(...head, '  identity-token: { enabled: true }'))[0]!.message, /authz.external-url/);
  assert.deepEqual(where(problemsOf(yamlLines(...head,
    '  headers: { identity: X-A }',
    '  identity-token: { header: X-B }',
  ))), [['authz.identity-token.header', 4]]);
  assert.deepEqual(where(problemsOf(yamlLines(...head, '  identity-token: { header: X-Kestra-User }'))), [['authz.identity-token.header', 3]]);
  const bad = problemsOf(yamlLines(...head,
    '  identity-token:',
    '    algorithm: HS256',
    '    ttl: 500ms',
    '    header: "bad header"',
    '    surprise: 1',
  ));
  assert.deepEqual(where(bad).map(([k]) => k).sort(), [
    'authz.identity-token.algorithm', 'authz.identity-token.header', 'authz.identity-token.surprise', 'authz.identity-token.ttl',
  ]);
  assert.deepEqual(where(problemsOf(yamlLines(...head, '  rules:', '    - { match: { path: /x }, allow: public, identity-audience: "" }'))).map(([k]) => k), ['authz.rules[0].identity-audience']);
});

test('config check reads the key file: an unusable one fails the check, naming the file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kauthz-identity-check-'));
  try {
    const configPath = join(dir, 'config.yaml');
    await writeFile(configPath, yamlLines(...head, '  external-url: https://kestra.example.com', '  identity-token: { enabled: true, key-file: identity.pem }'));
    const run = () => configCheckOutput(configPath);
    const missing = await run();
    assert.equal(missing.code, 1);
    assert.match(missing.text, /identity\.pem: cannot be read \(ENOENT\)/);
    await writeFile(join(dir, 'identity.pem'), generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ format: 'pem', type: 'pkcs8' }) as string);
    const good = await run();
    assert.equal(good.code, 0, good.text);
    assert.doesNotMatch(good.text, /BEGIN/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
