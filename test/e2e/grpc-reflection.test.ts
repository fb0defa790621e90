/**
 * Server reflection (what grpcurl and Postman use) describes the Check API.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { parseConfig } from '../../src/config/load-config.js';
import { startService } from '../../src/server/service.js';
import { createLogger } from '../../src/observability/logger.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';

const require = createRequire(import.meta.url);

test('reflection lists the Authorization service', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kauthz-refl-'));
  const config = parseConfig(`
kestra: { encryption: { secret-key: "${'s'.repeat(40)}" } }
authz:
  listen: { grpc: 127.0.0.1:0, http: 127.0.0.1:0, management: 127.0.0.1:0 }
  users: { file: ${join(dir, 'users.yaml')} }
  log: { level: silent }
`, 'test.yaml');
  const service = await startService(config, { logger: createLogger('silent') });
  const protoFile = join(dirname(require.resolve('@grpc/reflection/package.json')), 'build/proto/grpc/reflection/v1/reflection.proto');
  const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(protoFile, { keepCase: true })) as unknown as {
    grpc: { reflection: { v1: { ServerReflection: grpc.ServiceClientConstructor } } };
  };
  const client = new pkg.grpc.reflection.v1.ServerReflection(`127.0.0.1:${service.grpcPort}`, grpc.credentials.createInsecure());
  try {
    const names = await new Promise<string[]>((resolve, reject) => {
      const call = (client as unknown as { ServerReflectionInfo: () => grpc.ClientDuplexStream<unknown, { list_services_response?: { service: { name: string }[] } }> }).ServerReflectionInfo();
      call.on('data', (msg) => { resolve((msg.list_services_response?.service ?? []).map((s: { name: string }) => s.name)); call.end(); });
      call.on('error', reject);
      call.write({ list_services: '' });
    });
    assert.ok(names.includes('envoy.service.auth.v3.Authorization'), names.join(','));
  } finally {
    client.close();
    await service.close();
    await rm(dir, { recursive: true, force: true });
  }
});
