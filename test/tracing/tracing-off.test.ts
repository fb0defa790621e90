/**
 * Tracing is off unless the config turns it on — even with the standard
 * OTEL_* variables set — and then no OpenTelemetry SDK module is loaded and
 * nothing is sent anywhere. Runs in its own process (node --test), so the
 * module cache shows what the service itself loaded.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfigFile, parseConfig } from '../../src/config/load-config.js';
import { bearerServiceYaml } from '../helpers/bearer-service-config.js';
import { startGrpcDoor, expectAllowed, type GrpcDoor } from '../helpers/grpc-door.js';
import { startOtlpReceiver, type OtlpReceiver } from './otlp-receiver.js';

const require = createRequire(import.meta.url);

/** The SDK and exporter packages (prom-client may load @opentelemetry/api itself: that one is not ours). */
const SDK_PACKAGES = ['sdk-trace-base', 'sdk-trace', 'exporter-trace-otlp-http', 'otlp-exporter-base', 'otlp-transformer', 'resources', 'propagator-b3', 'core'];

function loadedSdkModules(): string[] {
  return Object.keys(require.cache).filter((file) => SDK_PACKAGES.some((p) => file.includes(`/node_modules/@opentelemetry/${p}/`)));
}

describe('tracing off (the default)', () => {
  let dir: string;
  let receiver: OtlpReceiver;
  let door: GrpcDoor | undefined;
  const savedEnv = process.env.OTEL_EXPORTER_OTLP_ENDPOINT;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kauthz-tracing-off-'));
    receiver = await startOtlpReceiver();
    // What an operator's pod spec may set for every container: not a switch for us.
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = receiver.base;
  });

  after(async () => {
    await door?.close();
    await receiver?.close();
    if (savedEnv === undefined) delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
    else process.env.OTEL_EXPORTER_OTLP_ENDPOINT = savedEnv;
    await rm(dir, { recursive: true, force: true });
  });

  test('the embedded default and a config without authz.tracing have it off', () => {
    assert.equal(parseConfig('', '<embedded>').tracing.enabled, false);
    assert.equal(parseConfig('authz: { tracing: {} }', 'x.yaml').tracing.enabled, false);
  });

  test('no tracer, no SDK module loaded, nothing sent — even for requests carrying trace headers', async () => {
    const configPath = join(dir, 'config.yaml');
    await writeFile(configPath, bearerServiceYaml({ dir, issuer: 'https://issuer.invalid' }));
    const config = await loadConfigFile(configPath);
    assert.equal(config.tracing.enabled, false);
    door = await startGrpcDoor(configPath);
    assert.equal(door.service.runtime.tracer, undefined);
    for (let i = 0; i < 5; i++) {
      expectAllowed(await door.check({ method: 'GET', path: '/healthz', headers: { traceparent: `00-${'ab'.repeat(16)}-${'cd'.repeat(8)}-01`, b3: `${'ab'.repeat(8)}-${'cd'.repeat(8)}-1` } }));
    }
    // A tracer would flush on close: after it, an absent export is conclusive.
    await door.close();
    door = undefined;
    assert.equal(receiver.exports.length, 0);
    assert.deepEqual(loadedSdkModules(), []);
  });
});
