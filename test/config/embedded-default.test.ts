/** The config used when none is given, and how the config path is chosen. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { embeddedDefaultConfig, EMBEDDED_DEFAULT_SOURCE } from '../../src/config/embedded-default.js';
import { resolveConfigPath } from '../../src/config/load-config.js';

describe('embedded default config', () => {
  test('basic auth, kestra rules, authenticated default, users file, cookie sessions, default ports', () => {
    const config = embeddedDefaultConfig({}, '/srv/app');
    assert.equal(config.source, EMBEDDED_DEFAULT_SOURCE);
    assert.equal(config.basicAuth.enabled, true);
    assert.equal(config.kestraRules, true);
    assert.equal(config.default, 'authenticated');
    assert.deepEqual(config.users, { store: 'file', file: '/srv/app/users.yaml' });
    assert.deepEqual(config.sessions, { store: 'cookie' });
    assert.deepEqual(config.listen, {
      grpc: { host: '0.0.0.0', port: 9191 },
      http: { host: '0.0.0.0', port: 8080 },
      management: { host: '0.0.0.0', port: 8081 },
    });
    assert.equal(config.oidc.enabled, false);
    assert.deepEqual(config.bearer.issuers, []);
    assert.deepEqual(config.rules, []);
    assert.ok(Object.isFrozen(config));
  });

  test('an EPHEMERAL random 32-byte secret, different each time, with a loud warning', () => {
    const a = embeddedDefaultConfig({});
    const b = embeddedDefaultConfig({});
    assert.equal(a.secrets.ephemeral, true);
    assert.equal(a.secrets.session.length, 32);
    assert.equal(a.secrets.refresh.length, 32);
    assert.notDeepEqual(a.secrets.session, b.secrets.session);
    assert.notDeepEqual(a.secrets.session, a.secrets.refresh);
    assert.equal(a.warnings.length, 1);
    assert.match(a.warnings[0]!, /EPHEMERAL/);
    assert.match(a.warnings[0]!, /kestra\.encryption\.secret-key/);
  });

  test('resolveConfigPath: --config wins, then KESTRA_AUTHZ_CONFIG, else undefined', () => {
    assert.equal(resolveConfigPath('/a.yaml', { KESTRA_AUTHZ_CONFIG: '/b.yaml' }), '/a.yaml');
    assert.equal(resolveConfigPath(undefined, { KESTRA_AUTHZ_CONFIG: '/b.yaml' }), '/b.yaml');
    assert.equal(resolveConfigPath(undefined, {}), undefined);
    assert.equal(resolveConfigPath('', { KESTRA_AUTHZ_CONFIG: '' }), undefined);
  });
});
