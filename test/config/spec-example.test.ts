/**
 * The big example in SPEC.md (test/fixtures/spec-example.yaml, unchanged)
 * loads and every value lands where the spec says it means.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { dirname } from 'node:path';
import { loadConfigFile } from '../../src/config/load-config.js';
import { ConfigError } from '../../src/core/errors.js';

// dist/test/config/ → repository root: fixtures are read from the source tree.
const SPEC_EXAMPLE = fileURLToPath(new URL('../../../test/fixtures/spec-example.yaml', import.meta.url));
const KESTRA_SECRET = 'kestra-secret-0123456789-abcdefghij-XYZ';
const KC_SECRET = 'keycloak-client-secret-value';
const env = { KESTRA_SECRET, KC_SECRET };

describe('SPEC.md example config', () => {
  test('loads without problems or warnings', async () => {
    const config = await loadConfigFile(SPEC_EXAMPLE, env);
    assert.equal(config.source, SPEC_EXAMPLE);
    assert.deepEqual(config.warnings, []);
  });

  test('kestra.* keys: secret, default role, groups claim path, Kestra defaults', async () => {
    const config = await loadConfigFile(SPEC_EXAMPLE, env);
    const secret = new TextEncoder().encode(KESTRA_SECRET);
    assert.deepEqual(config.secrets.session, secret);
    assert.deepEqual(config.secrets.refresh, secret);
    assert.equal(config.secrets.ephemeral, false);
    assert.deepEqual(config.defaultRole, {
      name: 'viewer',
      description: undefined,
      permissions: { FLOW: ['READ'], EXECUTION: ['READ'] },
      tenantId: undefined,
    });
    assert.equal(config.oidc.groupsClaimPath, 'resource_access.kestra.roles');
    assert.deepEqual(config.basicAuth, { enabled: true });
    assert.deepEqual(config.lockout, { threshold: 10, windowSeconds: 300, lockSeconds: 1800 });
  });

  test('micronaut.* keys: one OIDC provider, logout GET allowed, cookie defaults', async () => {
    const config = await loadConfigFile(SPEC_EXAMPLE, env);
    assert.equal(config.oidc.enabled, true);
    assert.deepEqual(config.oidc.providers, [
      {
        name: 'keycloak',
        clientId: 'kestra',
        clientSecret: KC_SECRET,
        issuer: 'https://sso.example.com/realms/kestra',
        scopes: ['openid', 'profile', 'email', 'roles'],
        endSessionEnabled: undefined,
        prompt: undefined,
      },
    ]);
    assert.deepEqual(config.logout, { getAllowed: true });
    assert.deepEqual(config.cookie, {
      name: 'JWT',
      maxAgeSeconds: 86_400,
      secure: undefined,
      sameSite: 'lax',
      domain: undefined,
      path: '/',
    });
  });

  test('authz: listeners, external URL, bearer issuers with their token sources', async () => {
    const config = await loadConfigFile(SPEC_EXAMPLE, env);
    assert.equal(config.externalUrl, 'https://kestra.example.com');
    assert.deepEqual(config.listen, {
      grpc: { host: '0.0.0.0', port: 9191 },
      http: { host: '0.0.0.0', port: 8080 },
      management: { host: '0.0.0.0', port: 8081 },
    });
    const [sso, ci] = config.bearer.issuers;
    assert.equal(config.bearer.issuers.length, 2);
    assert.equal(sso!.issuer, 'https://sso.example.com/realms/kestra');
    assert.equal(sso!.jwksUri, undefined, 'no jwks-uri: discovered');
    assert.deepEqual(sso!.audiences, ['kestra']);
    assert.deepEqual(sso!.from, [{ header: 'authorization', prefix: 'Bearer ' }]);
    assert.ok(sso!.algorithms.includes('RS256') && sso!.algorithms.includes('ES256'));
    assert.ok(sso!.algorithms.every((a) => !/^HS|none/i.test(a)));
    assert.equal(ci!.jwksUri, 'https://ci.example.com/keys');
    assert.deepEqual(ci!.audiences, ['kestra-api']);
    assert.deepEqual(ci!.from, [{ header: 'authorization', prefix: 'Bearer ' }, { cookie: 'id_token' }]);
    assert.deepEqual(
      [config.bearer.clockSkewSeconds, config.bearer.jwksMaxAgeSeconds, config.bearer.jwksCooldownSeconds, config.bearer.jwksTimeoutMs],
      [30, 600, 30, 5000],
    );
  });

  test('authz: stores, roles, bindings (with lines), rules (with ids and lines), defaults', async () => {
    const config = await loadConfigFile(SPEC_EXAMPLE, env);
    assert.deepEqual(config.users, { store: 'file', file: `${dirname(SPEC_EXAMPLE)}/users.yaml` });
    assert.deepEqual(config.sessions, { store: 'cookie' });
    assert.deepEqual(config.roles, [
      {
        name: 'developer',
        description: undefined,
        permissions: { FLOW: ['CREATE', 'READ', 'UPDATE', 'DELETE'], EXECUTION: ['CREATE', 'READ', 'UPDATE'] },
      },
    ]);
    assert.deepEqual(config.bindings, [
      { user: undefined, group: 'kestra-devs', role: 'developer', namespace: 'company.team', tenantId: undefined, line: 41 },
      { user: 'alice@example.com', group: undefined, role: 'admin', namespace: undefined, tenantId: undefined, line: 42 },
    ]);
    assert.deepEqual(config.rules, [
      { id: 'rule[0]', match: { methods: undefined, path: '/healthz', host: undefined }, allow: 'public', require: undefined, line: 44 },
      {
        id: 'rule[1]',
        match: { methods: ['GET'], path: '/reports/{namespace}/**', host: undefined },
        allow: undefined,
        require: 'FLOW:READ',
        line: 45,
      },
    ]);
    assert.equal(config.kestraRules, true);
    assert.equal(config.default, 'authenticated');
    assert.deepEqual(config.userClaims, ['preferred_username', 'email']);
    assert.deepEqual(config.headers, {
      user: 'x-kestra-user',
      email: 'x-kestra-email',
      groups: 'x-kestra-groups',
      tenant: 'x-kestra-tenant',
    });
    assert.equal(config.tokenCacheSize, 10_000);
    assert.deepEqual(config.log, { level: 'info', format: 'auto' });
  });

  test('the result is deeply frozen', async () => {
    const config = await loadConfigFile(SPEC_EXAMPLE, env);
    assert.ok(Object.isFrozen(config));
    assert.ok(Object.isFrozen(config.roles[0]!.permissions.FLOW));
    assert.ok(Object.isFrozen(config.bearer.issuers[1]!.from[1]));
    assert.throws(() => {
      (config.rules as unknown as unknown[]).push({});
    }, TypeError);
  });

  test('without KESTRA_SECRET / KC_SECRET it fails naming both variables and their lines', async () => {
    await assert.rejects(loadConfigFile(SPEC_EXAMPLE, {}), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.code, 'ERR_CONFIG_INVALID');
      assert.deepEqual(
        err.problems.map((p) => [p.key, p.line]),
        [
          ['kestra.encryption.secret-key', 3],
          ['micronaut.security.oauth2.clients.keycloak.client-secret', 17],
        ],
      );
      assert.match(err.problems[0]!.message, /KESTRA_SECRET is not set/);
      assert.match(err.problems[1]!.message, /KC_SECRET is not set/);
      return true;
    });
  });
});
