/** `config check` output: every secret replaced by '***', nothing else hidden. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { maskConfig, maskUrl } from '../../src/config/mask-config.js';
import { load, yamlLines } from './config-problems.js';

const KESTRA_SECRET = 'kestra-encryption-secret-value-000000001';
const SESSION_SECRET = 'session-signing-secret-value-0000000002';
const REFRESH_SECRET = 'refresh-token-secret-value-000000000003';
const CLIENT_SECRET = 'oidc-client-secret-value-4';
const REDIS_PW = 'redis-password-5';
const PG_PW = 'pg-password-6';

describe('maskConfig', () => {
  test('hides every secret: secret keys, client secrets, URL passwords and password query parameters', () => {
    const config = load(
      yamlLines(
        'kestra:',
        `  encryption: { secret-key: "${KESTRA_SECRET}" }`,
        'micronaut:',
        '  security:',
        '    token:',
        '      jwt:',
        `        signatures: { secret: { generator: { secret: "${SESSION_SECRET}" } } }`,
        `        generator: { refresh-token: { secret: "${REFRESH_SECRET}" } }`,
        '    oauth2:',
        '      enabled: true',
        `      clients: { kc: { client-id: kestra, client-secret: "${CLIENT_SECRET}", openid: { issuer: "https://sso.example.com" } } }`,
        'authz:',
        `  users: { store: postgres, url: "postgres://kestra:${PG_PW}@db:5432/authz?sslmode=require&password=${PG_PW}" }`,
        `  sessions: { store: redis, url: "redis://:${REDIS_PW}@cache:6379/0" }`,
      ),
    );
    const masked = maskConfig(config);
    const json = JSON.stringify(masked);
    for (const secret of [KESTRA_SECRET, SESSION_SECRET, REFRESH_SECRET, CLIENT_SECRET, REDIS_PW, PG_PW]) {
      assert.ok(!json.includes(secret), `${secret} leaked`);
    }
    // secret bytes as bytes would leak too: no array of numbers anywhere under secrets
    const view = masked as {
      secrets: unknown;
      oidc: { providers: { clientSecret: string; clientId: string }[] };
      users: { url: string };
      sessions: { url: string };
      tokenCacheSize: number;
    };
    assert.deepEqual(view.secrets, { session: '***', refresh: '***', ephemeral: false });
    assert.equal(view.oidc.providers[0]!.clientSecret, '***');
    assert.equal(view.oidc.providers[0]!.clientId, 'kestra');
    assert.equal(view.users.url, 'postgres://kestra:***@db:5432/authz?sslmode=require&password=***');
    assert.equal(view.sessions.url, 'redis://:***@cache:6379/0');
    assert.equal(view.tokenCacheSize, 10_000);
    // JSON round trip works (config check prints it)
    assert.deepEqual(JSON.parse(json), masked);
  });

  test('maskUrl', () => {
    assert.equal(maskUrl('redis://:pw@host:6379'), 'redis://:***@host:6379');
    assert.equal(maskUrl('redis://user:p@ss/w@rd@host'), 'redis://user:***@host');
    assert.equal(maskUrl('https://sso.example.com/realms/kestra'), 'https://sso.example.com/realms/kestra');
    assert.equal(maskUrl('https://h/x?token=abc&a=1#f'), 'https://h/x?token=***&a=1#f');
    assert.equal(maskUrl('not a url'), 'not a url');
  });
});
