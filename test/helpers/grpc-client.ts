/**
 * A real grpc-js client for Envoy's Authorization and Health services,
 * built from the same Envoy protos the server loads.
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { loadExtAuthzDefinition } from '../../src/server/envoy-protos.js';

const require = createRequire(import.meta.url);

export interface CheckResponseJs {
  status?: { code?: number; message?: string };
  ok_response?: {
    headers?: { header: { key: string; value: string }; append_action?: number }[];
    headers_to_remove?: string[];
    response_headers_to_add?: { header: { key: string; value: string } }[];
  };
  denied_response?: {
    status?: { code?: number };
    headers?: { header: { key: string; value: string } }[];
    body?: string;
  };
  dynamic_metadata?: { fields?: Record<string, { stringValue?: string }> };
}

const CALL_DEADLINE_MS = 15_000;

export interface AuthzClient {
  /** `metadata`: gRPC metadata of the call itself (Envoy sends its span's trace context there). */
  check(request: unknown, metadata?: Readonly<Record<string, string>>): Promise<CheckResponseJs>;
  health(service?: string): Promise<string>;
  close(): void;
}

export function createAuthzClient(port: number): AuthzClient {
  const definition = loadExtAuthzDefinition();
  const pkg = grpc.loadPackageDefinition(definition) as unknown as {
    envoy: { service: { auth: { v3: { Authorization: grpc.ServiceClientConstructor } } } };
  };
  const address = `127.0.0.1:${port}`;
  const client = new pkg.envoy.service.auth.v3.Authorization(address, grpc.credentials.createInsecure());

  const healthProto = join(dirname(require.resolve('grpc-health-check/package.json')), 'proto/health/v1/health.proto');
  const healthDef = protoLoader.loadSync(healthProto, { keepCase: true, enums: String });
  const healthPkg = grpc.loadPackageDefinition(healthDef) as unknown as {
    grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } };
  };
  const healthClient = new healthPkg.grpc.health.v1.Health(address, grpc.credentials.createInsecure());

  return {
    // A deadline on every call: a server that went away fails the test instead of hanging it.
    check: (request, metadata = {}) => new Promise((resolve, reject) => {
      const md = new grpc.Metadata();
      for (const [name, value] of Object.entries(metadata)) md.set(name, value);
      (client as unknown as { Check: (r: unknown, m: grpc.Metadata, o: grpc.CallOptions, cb: (e: Error | null, v: CheckResponseJs) => void) => void })
        .Check(request, md, { deadline: Date.now() + CALL_DEADLINE_MS }, (err, value) => (err ? reject(err) : resolve(value)));
    }),
    health: (service = '') => new Promise((resolve, reject) => {
      (healthClient as unknown as { Check: (r: unknown, o: grpc.CallOptions, cb: (e: Error | null, v: { status: string }) => void) => void })
        .Check({ service }, { deadline: Date.now() + CALL_DEADLINE_MS }, (err, value) => (err ? reject(err) : resolve(value.status)));
    }),
    close: () => { client.close(); healthClient.close(); },
  };
}

/** Header value from a CheckResponse header list, or undefined. */
export function headerOf(list: { header: { key: string; value: string } }[] | undefined, name: string): string | undefined {
  return list?.find((h) => h.header.key.toLowerCase() === name)?.header.value;
}

export function headersOf(list: { header: { key: string; value: string } }[] | undefined, name: string): string[] {
  return (list ?? []).filter((h) => h.header.key.toLowerCase() === name).map((h) => h.header.value);
}
