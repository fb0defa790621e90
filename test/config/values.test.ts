/** How single values are read: listeners, stores, headers, OIDC prompt, hosts, durations in context. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { load, problemsOf, where, yamlLines } from './config-problems.js';

describe('config values', () => {
  test('listen: host:port, [IPv6]:port, :port, bare port, port 0', () => {
    const config = load(yamlLines('authz:', '  listen: { grpc: "[::]:9191", http: ":8080", management: 0 }'));
    assert.deepEqual(config.listen, {
      grpc: { host: '::', port: 9191 },
      http: { host: '0.0.0.0', port: 8080 },
      management: { host: '0.0.0.0', port: 0 },
    });
    const more = load(yamlLines('authz:', '  listen: { grpc: "9191", http: "localhost:80", management: "[::1]:0" }'));
    assert.deepEqual(more.listen, {
      grpc: { host: '0.0.0.0', port: 9191 },
      http: { host: 'localhost', port: 80 },
      management: { host: '::1', port: 0 },
    });
    const problems = problemsOf(yamlLines('authz:', '  listen:', '    grpc: "[nothex]:1"', '    http: "host:port"', '    management: "bad_host!:80"'));
    assert.deepEqual(where(problems), [
      ['authz.listen.grpc', 3],
      ['authz.listen.http', 4],
      ['authz.listen.management', 5],
    ]);
  });

  test('users store: file (default ./users.yaml, resolved), store inferred from url, postgres', () => {
    assert.deepEqual(load('authz: {}\n').users, { store: 'file', file: '/srv/authz/users.yaml' });
    assert.deepEqual(load('authz: { users: { store: file } }\n').users, { store: 'file', file: '/srv/authz/users.yaml' });
    assert.deepEqual(load('authz: { users: { file: /etc/u.yaml } }\n').users, { store: 'file', file: '/etc/u.yaml' });
    assert.deepEqual(load('authz: { users: { url: "postgresql://db/a" } }\n').users, { store: 'postgres', url: 'postgresql://db/a' });
    assert.deepEqual(where(problemsOf('authz: { users: { store: postgres, file: x.yaml } }\n')), [
      ['authz.users', 1],
      ['authz.users.file', 1],
    ]);
  });

  test('sessions store: cookie by default; redis with default prefix; cookie with url is a problem', () => {
    assert.deepEqual(load('authz: {}\n').sessions, { store: 'cookie' });
    assert.deepEqual(load('authz: { sessions: { store: REDIS, url: "rediss://c:6380", prefix: "k:" } }\n').sessions, {
      store: 'redis',
      url: 'rediss://c:6380',
      prefix: 'k:',
    });
    assert.deepEqual(where(problemsOf('authz:\n  sessions: { store: cookie, url: "redis://c" }\n')), [['authz.sessions.url', 2]]);
  });

  test('identity headers: defaults, lower-cased overrides, identity header opt-in, duplicates rejected', () => {
    const config = load(yamlLines('authz:', '  headers: { user: X-Remote-User, identity: X-Kestra-Identity }'));
    assert.deepEqual(config.headers, {
      user: 'x-remote-user',
      email: 'x-kestra-email',
      groups: 'x-kestra-groups',
      tenant: 'x-kestra-tenant',
      identity: 'x-kestra-identity',
    });
    assert.deepEqual(where(problemsOf(yamlLines('authz:', '  headers:', '    user: x-who', '    email: X-Who'))), [['authz.headers.email', 4]]);
  });

  test('OIDC client: scopes default, end-session and prompt', () => {
    const config = load(
      yamlLines(
        'micronaut:',
        '  security:',
        '    oauth2:',
        '      enabled: "true"',
        '      clients:',
        '        okta:',
        '          client-id: abc',
        '          openid:',
        '            issuer: https://dev.okta.com/oauth2/default/',
        '            end-session: { enabled: true }',
        '            authorization: { prompt: "Login Consent" }',
      ),
    );
    assert.deepEqual(config.oidc.providers, [
      {
        name: 'okta',
        clientId: 'abc',
        clientSecret: undefined,
        issuer: 'https://dev.okta.com/oauth2/default',
        scopes: ['openid', 'email', 'profile'],
        endSessionEnabled: true,
        prompt: 'login consent',
        authMethod: undefined,
        privateKeyFile: undefined,
        privateKeyId: undefined,
        userinfo: 'auto',
      },
    ]);
  });

  test('session and refresh secrets: overrides, fallbacks', () => {
    const a = 'a'.repeat(32);
    const b = 'b'.repeat(32);
    const config = load(
      yamlLines(
        `kestra: { encryption: { secret-key: "${a}" } }`,
        `micronaut: { security: { token: { jwt: { signatures: { secret: { generator: { secret: "${b}" } } } } } } }`,
      ),
    );
    assert.equal(Buffer.from(config.secrets.session).toString(), b);
    assert.equal(Buffer.from(config.secrets.refresh).toString(), a);
    assert.equal(config.secrets.ephemeral, false);
  });

  test('bearer durations and log level', () => {
    const config = load(yamlLines('authz:', '  bearer: { clock-skew: PT1M, jwks-max-age: 3600, jwks-cooldown: 0, jwks-timeout: 1500ms }', '  log: { level: DEBUG }'));
    assert.deepEqual(
      [config.bearer.clockSkewSeconds, config.bearer.jwksMaxAgeSeconds, config.bearer.jwksCooldownSeconds, config.bearer.jwksTimeoutMs],
      [60, 3600, 0, 1500],
    );
    assert.equal(config.log.level, 'debug');
    assert.deepEqual(where(problemsOf('authz: { bearer: { jwks-timeout: 0 } }\n')), [['authz.bearer.jwks-timeout', 1]]);
  });

  test('rule host patterns and bindings with tenant and namespace', () => {
    const config = load(
      yamlLines(
        'authz:',
        '  rules: [{ id: api, match: { host: "*.Example.com", path: / }, allow: authenticated }]',
        '  bindings: [{ group: g, role: admin, namespace: prod.eng, tenantId: acme }]',
      ),
    );
    assert.equal(config.rules[0]!.match.host, '*.example.com');
    assert.equal(config.rules[0]!.id, 'api');
    assert.deepEqual(config.bindings[0], { user: undefined, group: 'g', role: 'admin', namespace: 'prod.eng', tenantId: 'acme', line: 3 });
    assert.deepEqual(
      where(problemsOf(yamlLines('authz:', '  rules: [{ match: { host: "a.com:443", path: / }, allow: deny }]', '  bindings: [{ group: g, role: admin, namespace: "a..b" }]'))),
      [
        ['authz.rules[0].match.host', 2],
        ['authz.bindings[0].namespace', 3],
      ],
    );
  });
});
