/** ${VAR} and ${VAR:default} in string values, after YAML parsing. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { substituteEnv } from '../../src/config/substitute-env.js';
import { load, problemsOf, SECRET, where, yamlLines } from './config-problems.js';

describe('environment substitution', () => {
  test('substituteEnv: set, default, empty default, several, missing', () => {
    assert.deepEqual(substituteEnv('a-${X}-b', { X: '1' }), { ok: true, value: 'a-1-b' });
    assert.deepEqual(substituteEnv('${X:dflt}', {}), { ok: true, value: 'dflt' });
    assert.deepEqual(substituteEnv('${X:}', {}), { ok: true, value: '' });
    assert.deepEqual(substituteEnv('${X:dflt}', { X: '' }), { ok: true, value: '' });
    assert.deepEqual(substituteEnv('${A}:${B:2}', { A: '1' }), { ok: true, value: '1:2' });
    assert.deepEqual(substituteEnv('${A}${B}${A}', {}), { ok: false, missing: ['A', 'B'] });
    assert.deepEqual(substituteEnv('no placeholders $X {Y}', {}), { ok: true, value: 'no placeholders $X {Y}' });
    // a value from the environment is not substituted again
    assert.deepEqual(substituteEnv('${A}', { A: '${B}', B: 'x' }), { ok: true, value: '${B}' });
  });

  test('with and without default, in kestra and authz keys', () => {
    const config = load(
      yamlLines(
        'kestra:',
        '  encryption:',
        '    secret-key: ${SECRET}',
        'authz:',
        '  external-url: https://${HOST:kestra.local}',
        '  kestra-rules: ${KESTRA_RULES:false}',
        '  token-cache-size: ${CACHE:42}',
        '  sessions: { store: redis, url: "${REDIS_URL}" }',
      ),
      { SECRET, REDIS_URL: 'redis://cache:6379/0' },
    );
    assert.deepEqual(config.secrets.session, new TextEncoder().encode(SECRET));
    assert.equal(config.externalUrl, 'https://kestra.local');
    assert.equal(config.kestraRules, false);
    assert.equal(config.tokenCacheSize, 42);
    assert.deepEqual(config.sessions, { store: 'redis', url: 'redis://cache:6379/0', prefix: 'kestra-authz:' });
  });

  test('a missing variable without default is a problem naming the key, the variable and the line', () => {
    const problems = problemsOf(
      yamlLines('authz:', '  external-url: https://kestra.example.com', '  users:', '    store: postgres', '    url: ${PG_URL}', '  default: ${DEFAULT_MODE}'),
    );
    assert.deepEqual(where(problems), [
      ['authz.users.url', 5],
      ['authz.default', 6],
    ]);
    assert.match(problems[0]!.message, /PG_URL is not set/);
    assert.match(problems[1]!.message, /DEFAULT_MODE is not set/);
  });

  test('a value cannot inject YAML structure', () => {
    const problems = problemsOf(yamlLines('authz:', '  headers:', '    user: x-${NAME}'), { NAME: 'user\n  default: public' });
    // The whole value stays one (invalid) header name; no `default` key appears.
    assert.deepEqual(where(problems), [['authz.headers.user', 3]]);
    const config = load(yamlLines('authz:', '  rules:', '    - { id: "${ID}", match: { path: /x }, allow: public }'), { ID: 'r", allow: "deny' });
    assert.deepEqual(config.rules.map((r) => [r.id, r.allow]), [['r", allow: "deny', 'public']]);
  });
});
