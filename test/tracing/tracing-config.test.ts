/**
 * `authz.tracing` in the config file: defaults, both key spellings, names
 * kept as written, the collector headers masked by `config check`, every
 * problem listed at once without echoing a header value, the OTEL_*
 * fallbacks, and "needs a restart" on reload.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/load-config.js';
import { maskConfig } from '../../src/config/mask-config.js';
import { ConfigError } from '../../src/core/errors.js';
import { resolveTracingOptions } from '../../src/observability/tracing-options.js';
import { restartOnlyChanges } from '../../src/server/config-reload.js';

const HEADER_SECRET = 'collector-api-key-value-31f7';

describe('authz.tracing config', () => {
  test('defaults: off, ratio 1, no headers, user name off; endpoint/timeout/service name left to OTEL_* or defaults', () => {
    const tracing = parseConfig('authz: {}', 'x.yaml').tracing;
    assert.deepEqual({ ...tracing }, {
      enabled: false,
      endpoint: undefined,
      exportHeaders: {},
      timeoutMs: undefined,
      samplerRatio: 1,
      serviceName: undefined,
      resourceAttributes: {},
      includeUser: false,
    });
  });

  test('every key, camelCase spelling; header and attribute names kept as written (headers lower-cased)', () => {
    const config = parseConfig(`
authz:
  tracing:
    enabled: true
    otlp:
      endpoint: https://otel.example.com:4318/v1/traces/
      headers: { X-Api-Key: ${HEADER_SECRET}, apiToken: t }
      timeout: PT3S
    sampler: { ratio: "0.25" }
    serviceName: authz-eu
    resourceAttributes: { deployment.environment.name: prod, myTeam: platform, replicas: 3 }
    includeUser: yes
`, 'x.yaml');
    assert.deepEqual({ ...config.tracing }, {
      enabled: true,
      endpoint: 'https://otel.example.com:4318/v1/traces',
      exportHeaders: { 'x-api-key': HEADER_SECRET, apitoken: 't' },
      timeoutMs: 3_000,
      samplerRatio: 0.25,
      serviceName: 'authz-eu',
      resourceAttributes: { 'deployment.environment.name': 'prod', myTeam: 'platform', replicas: 3 },
      includeUser: true,
    });
  });

  test('config check output: header names shown, values masked; identity header names untouched', () => {
    const config = parseConfig(`authz: { tracing: { enabled: true, otlp: { headers: { authorization: "Bearer ${HEADER_SECRET}" } } } }`, 'x.yaml');
    const masked = maskConfig(config) as { tracing: { exportHeaders: Record<string, string> }; headers: Record<string, string> };
    assert.deepEqual(masked.tracing.exportHeaders, { authorization: '***' });
    assert.equal(masked.headers.user, 'x-kestra-user');
    assert.ok(!JSON.stringify(masked).includes(HEADER_SECRET));
  });

  test('every problem at once, each with its key and line, none echoing a header value', () => {
    const yaml = `authz:
  tracing:
    enabled: maybe
    exporter: otlp
    otlp:
      endpoint: ftp://collector:4318
      headers: { x-api-key: [${HEADER_SECRET}], "bad header": v }
      timeout: soon
    sampler: { ratio: 1.5 }
    resource-attributes: { env: { nested: map } }
`;
    let error: unknown;
    try {
      parseConfig(yaml, 'bad.yaml');
    } catch (err) {
      error = err;
    }
    assert.ok(error instanceof ConfigError);
    const problems = error.problems.map((p) => `${p.key}@${p.line ?? '?'}: ${p.message}`);
    const expectKey = (key: string, line: number) =>
      assert.ok(problems.some((p) => p.startsWith(`${key}@${line}:`)), `expected a problem at ${key} line ${line}; got\n${problems.join('\n')}`);
    expectKey('authz.tracing.enabled', 3);
    expectKey('authz.tracing.exporter', 4);
    expectKey('authz.tracing.otlp.endpoint', 6);
    expectKey('authz.tracing.otlp.headers', 7);
    expectKey('authz.tracing.otlp.timeout', 8);
    expectKey('authz.tracing.sampler.ratio', 9);
    expectKey('authz.tracing.resource-attributes', 10);
    assert.ok(!problems.join('\n').includes(HEADER_SECRET), 'a header value is never repeated in a problem');
  });

  test('endpoint: file, then OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as is, then OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces, then 127.0.0.1:4318', () => {
    const tracing = parseConfig('authz: { tracing: { enabled: true } }', 'x.yaml').tracing;
    const withFile = parseConfig('authz: { tracing: { enabled: true, otlp: { endpoint: "http://file:4318/v1/traces" } } }', 'x.yaml').tracing;
    const env = { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://traces:4318/custom', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://base:4318/' };
    assert.equal(resolveTracingOptions(withFile, 'v', env).endpoint, 'http://file:4318/v1/traces');
    assert.equal(resolveTracingOptions(tracing, 'v', env).endpoint, 'http://traces:4318/custom');
    assert.equal(resolveTracingOptions(tracing, 'v', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://base:4318/' }).endpoint, 'http://base:4318/v1/traces');
    assert.equal(resolveTracingOptions(tracing, 'v', { OTEL_EXPORTER_OTLP_ENDPOINT: 'not a url' }).endpoint, 'http://127.0.0.1:4318/v1/traces');
    assert.equal(resolveTracingOptions(tracing, 'v', {}).endpoint, 'http://127.0.0.1:4318/v1/traces');
  });

  test('timeout and service name: file, then OTEL_*, then defaults', () => {
    const bare = parseConfig('authz: { tracing: { enabled: true } }', 'x.yaml').tracing;
    const set = parseConfig('authz: { tracing: { enabled: true, service-name: from-file, otlp: { timeout: 2s } } }', 'x.yaml').tracing;
    const env = { OTEL_SERVICE_NAME: 'from-env', OTEL_EXPORTER_OTLP_TIMEOUT: '7000' };
    assert.deepEqual(resolveTracingOptions(set, '1.2.3', env), { endpoint: 'http://127.0.0.1:4318/v1/traces', timeoutMs: 2_000, serviceName: 'from-file', serviceVersion: '1.2.3' });
    assert.deepEqual(resolveTracingOptions(bare, '1.2.3', env), { endpoint: 'http://127.0.0.1:4318/v1/traces', timeoutMs: 7_000, serviceName: 'from-env', serviceVersion: '1.2.3' });
    assert.deepEqual(resolveTracingOptions(bare, '1.2.3', {}), { endpoint: 'http://127.0.0.1:4318/v1/traces', timeoutMs: 10_000, serviceName: 'kestra-authz', serviceVersion: '1.2.3' });
  });

  test('a reload that changes authz.tracing reports "needs a restart"', () => {
    const before = parseConfig('authz: { tracing: { enabled: false } }', 'x.yaml');
    const after = parseConfig('authz: { tracing: { enabled: true } }', 'x.yaml');
    assert.deepEqual(restartOnlyChanges(before, after), ['authz.tracing']);
    assert.deepEqual(restartOnlyChanges(before, parseConfig('authz: { tracing: { enabled: false } }', 'x.yaml')), []);
  });
});
