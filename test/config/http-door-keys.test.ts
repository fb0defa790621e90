import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/load-config.js';
import { ConfigError } from '../../src/core/errors.js';

const base = `kestra: { encryption: { secret-key: "${'k'.repeat(40)}" } }\n`;

test('authz.http.ext-authz-prefix: default /ext_authz, configurable, validated with its line', () => {
  assert.equal(parseConfig(base, 't.yaml').http.extAuthzPrefix, '/ext_authz');
  assert.equal(parseConfig(`${base}authz:\n  http: { ext-authz-prefix: /authz/envoy }\n`, 't.yaml').http.extAuthzPrefix, '/authz/envoy');
  assert.throws(() => parseConfig(`${base}authz:\n  http:\n    ext-authz-prefix: "ext/"\n`, 't.yaml'), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    assert.match(err.message, /t\.yaml:4: authz\.http\.ext-authz-prefix: must be an absolute path/);
    return true;
  });
});

test('authz.http.forward-auth.trust: default auto, one of the proxy kinds, camelCase accepted, validated with its line', () => {
  assert.equal(parseConfig(base, 't.yaml').http.forwardAuthTrust, 'auto');
  for (const trust of ['auto', 'nginx', 'caddy', 'traefik', 'envoy']) {
    assert.equal(parseConfig(`${base}authz:\n  http: { forward-auth: { trust: ${trust} } }\n`, 't.yaml').http.forwardAuthTrust, trust);
  }
  assert.equal(parseConfig(`${base}authz:\n  http: { forwardAuth: { trust: NGINX } }\n`, 't.yaml').http.forwardAuthTrust, 'nginx');
  assert.throws(() => parseConfig(`${base}authz:\n  http:\n    forward-auth:\n      trust: haproxy\n`, 't.yaml'), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    assert.match(err.message, /t\.yaml:5: authz\.http\.forward-auth\.trust: must be one of auto \| nginx \| caddy \| traefik \| envoy/);
    return true;
  });
});

test('authz.http.keep-alive-timeout: default 75 s (above the recipes\' 60 s proxy idle timeouts), a duration of at least 1 s', () => {
  assert.equal(parseConfig(base, 't.yaml').http.keepAliveTimeoutMs, 75_000);
  assert.equal(parseConfig(`${base}authz:\n  http: { keep-alive-timeout: 100s }\n`, 't.yaml').http.keepAliveTimeoutMs, 100_000);
  assert.throws(() => parseConfig(`${base}authz:\n  http:\n    keep-alive-timeout: 10ms\n`, 't.yaml'), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    assert.match(err.message, /t\.yaml:4: authz\.http\.keep-alive-timeout: must be at least 1000 ms/);
    return true;
  });
});
