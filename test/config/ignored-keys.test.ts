/** Kestra/Micronaut keys kestra-authz does not use: ignored, one warning per top-most key. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { load, SECRET, yamlLines } from './config-problems.js';

describe('ignored Kestra / Micronaut keys', () => {
  test('a pasted Kestra application.yaml loads with one warning per top-most unused key', () => {
    const config = load(
      yamlLines(
        'datasources:', //                                  1
        '  postgres: { url: "jdbc:postgresql://db/kestra", password: dbpw-not-shown }',
        'kestra:',
        '  queue:', //                                      4
        '    type: postgres',
        '  repository: { type: postgres }', //              6
        '  storage:', //                                    7
        '    type: local',
        '    local: { base-path: /app/storage }',
        '  encryption:',
        `    secret-key: "${SECRET}"`,
        '    algorithm: AES', //                            12
        '  security:',
        '    super-admin: { username: root }', //           14
        '    basic-auth: { enabled: true, realm: x }', //   15
        'micronaut:',
        '  server: { port: 8080 }', //                      17
        '  security:',
        '    token:',
        '      jwt: { generator: { access-token: { expiration: 3600 } } }', // 20
        'endpoints: { all: { port: 8081 } }', //            21
      ),
    );
    assert.deepEqual(config.warnings, [
      'datasources (line 1) is not a key kestra-authz uses; ignored',
      'kestra.queue (line 4) is a Kestra key kestra-authz does not use; ignored',
      'kestra.repository (line 6) is a Kestra key kestra-authz does not use; ignored',
      'kestra.storage (line 7) is a Kestra key kestra-authz does not use; ignored',
      'kestra.encryption.algorithm (line 12) is a Kestra key kestra-authz does not use; ignored',
      'kestra.security.super-admin (line 14) is a Kestra key kestra-authz does not use; ignored',
      'kestra.security.basic-auth.realm (line 15) is a Kestra key kestra-authz does not use; ignored',
      'micronaut.server (line 17) is a Micronaut key kestra-authz does not use; ignored',
      'micronaut.security.token.jwt.generator.access-token (line 20) is a Micronaut key kestra-authz does not use; ignored',
      'endpoints (line 21) is not a key kestra-authz uses; ignored',
    ]);
    assert.ok(!config.warnings.join('\n').includes('dbpw-not-shown'));
    assert.equal(config.secrets.ephemeral, false);
  });

  test('an ignored key keeps the spelling the operator wrote', () => {
    const config = load(yamlLines('kestra:', '  anonymousUsageReport: { enabled: false }', `  encryption: { secretKey: "${SECRET}" }`));
    assert.deepEqual(config.warnings, ['kestra.anonymousUsageReport (line 2) is a Kestra key kestra-authz does not use; ignored']);
  });

  test('ignored keys are not validated: a wrong value there is no problem', () => {
    const config = load(yamlLines('kestra:', '  queue: [1, 2]', `  encryption: { secret-key: "${SECRET}" }`, 'micronaut:', '  security: { enabled: maybe }'));
    assert.equal(config.warnings.length, 2);
  });

  test('OIDC clients while oauth2 is not enabled: a warning, no providers', () => {
    const config = load(
      yamlLines(
        `kestra: { encryption: { secret-key: "${SECRET}" } }`,
        'micronaut:',
        '  security:',
        '    oauth2:',
        '      clients: { google: { client-id: x, openid: { issuer: "https://accounts.google.com" } } }',
      ),
    );
    assert.deepEqual(config.oidc.providers, []);
    assert.equal(config.oidc.enabled, false);
    assert.match(config.warnings[0]!, /oauth2.enabled is not true/);
  });
});
