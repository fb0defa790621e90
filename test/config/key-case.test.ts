/** kebab-case and camelCase are the same key (as in Micronaut); both at once is a problem. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { kebabKey } from '../../src/config/key-case.js';
import { load, problemsOf, SECRET, where, yamlLines } from './config-problems.js';

describe('key spelling', () => {
  test('kebabKey', () => {
    assert.equal(kebabKey('secretKey'), 'secret-key');
    assert.equal(kebabKey('defaultRole'), 'default-role');
    assert.equal(kebabKey('groupsClaimPath'), 'groups-claim-path');
    assert.equal(kebabKey('cookieMaxAge'), 'cookie-max-age');
    assert.equal(kebabKey('clientID'), 'client-id');
    assert.equal(kebabKey('jwksURI'), 'jwks-uri');
    assert.equal(kebabKey('cookie-max-age'), 'cookie-max-age');
    assert.equal(kebabKey('enabled'), 'enabled');
  });

  const kebab = yamlLines(
    'kestra:',
    '  encryption: { secret-key: "' + SECRET + '" }',
    '  security:',
    '    default-role: { name: viewer, tenant-id: main, permissions: { FLOW: [READ] } }',
    '    oidc: { groups-claim-path: realm_access.roles }',
    '    basic-auth: { enabled: false }',
    '    login: { failed-attempts: { threshold: 3, monitoring-window: PT1M, lock-duration: 1h } }',
    'micronaut:',
    '  security:',
    '    token:',
    '      cookie: { cookie-max-age: PT12H, cookie-name: SESSION, cookie-same-site: strict }',
    '    oauth2:',
    '      enabled: true',
    '      clients:',
    '        myIdp: { client-id: app, client-secret: s, openid: { issuer: "https://idp.example.com", end-session: { enabled: false } } }',
    '    endpoints: { logout: { get-allowed: true } }',
    'authz:',
    '  external-url: https://kestra.example.com/',
    '  bearer: { jwks-max-age: 5m, clock-skew: 10s, issuers: [{ issuer: "https://idp.example.com", jwks-uri: "https://idp.example.com/jwks", audiences: [a], groups-claim-path: roles }] }',
    '  kestra-rules: false',
    '  user-claims: [email]',
    '  token-cache-size: 50',
  );
  const camel = yamlLines(
    'kestra:',
    '  encryption: { secretKey: "' + SECRET + '" }',
    '  security:',
    '    defaultRole: { name: viewer, tenantId: main, permissions: { FLOW: [READ] } }',
    '    oidc: { groupsClaimPath: realm_access.roles }',
    '    basicAuth: { enabled: false }',
    '    login: { failedAttempts: { threshold: 3, monitoringWindow: PT1M, lockDuration: 1h } }',
    'micronaut:',
    '  security:',
    '    token:',
    '      cookie: { cookieMaxAge: PT12H, cookieName: SESSION, cookieSameSite: strict }',
    '    oauth2:',
    '      enabled: true',
    '      clients:',
    '        myIdp: { clientId: app, clientSecret: s, openid: { issuer: "https://idp.example.com", endSession: { enabled: false } } }',
    '    endpoints: { logout: { getAllowed: true } }',
    'authz:',
    '  externalUrl: https://kestra.example.com/',
    '  bearer: { jwksMaxAge: 5m, clockSkew: 10s, issuers: [{ issuer: "https://idp.example.com", jwksUri: "https://idp.example.com/jwks", audiences: [a], groupsClaimPath: roles }] }',
    '  kestraRules: false',
    '  userClaims: [email]',
    '  tokenCacheSize: 50',
  );

  test('the same file in kebab-case and in camelCase gives the same config', () => {
    const a = load(kebab);
    const b = load(camel);
    assert.deepEqual(b, a);
    assert.deepEqual(a.warnings, []);
    assert.deepEqual(a.defaultRole, { name: 'viewer', description: undefined, permissions: { FLOW: ['READ'] }, tenantId: 'main' });
    assert.equal(a.oidc.groupsClaimPath, 'realm_access.roles');
    assert.equal(a.basicAuth.enabled, false);
    assert.deepEqual(a.lockout, { threshold: 3, windowSeconds: 60, lockSeconds: 3600 });
    assert.deepEqual([a.cookie.maxAgeSeconds, a.cookie.name, a.cookie.sameSite], [43_200, 'SESSION', 'strict']);
    // a client name is data: its spelling is kept
    assert.equal(a.oidc.providers[0]!.name, 'myIdp');
    assert.equal(a.oidc.providers[0]!.endSessionEnabled, false);
    assert.equal(a.logout.getAllowed, true);
    assert.equal(a.externalUrl, 'https://kestra.example.com');
    assert.deepEqual([a.bearer.jwksMaxAgeSeconds, a.bearer.clockSkewSeconds], [300, 10]);
    assert.equal(a.bearer.issuers[0]!.jwksUri, 'https://idp.example.com/jwks');
    assert.equal(a.bearer.issuers[0]!.groupsClaimPath, 'roles');
    assert.deepEqual([a.kestraRules, a.userClaims, a.tokenCacheSize], [false, ['email'], 50]);
  });

  test('both spellings of one key is a problem naming the second as written', () => {
    const problems = problemsOf(
      yamlLines('kestra:', '  security:', '    default-role: { name: a }', '    defaultRole: { name: b }', 'authz:', '  kestraRules: true', '  kestra-rules: false'),
    );
    assert.deepEqual(where(problems), [
      ['kestra.security.defaultRole', 4],
      ['authz.kestra-rules', 7],
    ]);
    assert.match(problems[0]!.message, /"default-role" and "defaultRole" are the same key/);
  });

  test('problems name the key as the operator spelled it', () => {
    const problems = problemsOf(yamlLines('kestra:', '  security:', '    defaultRole:', '      tenantId: 5', 'authz:', '  tokenCacheSize: lots'));
    assert.deepEqual(where(problems), [
      ['kestra.security.defaultRole.name', 3],
      ['kestra.security.defaultRole.tenantId', 4],
      ['authz.tokenCacheSize', 6],
    ]);
  });
});
