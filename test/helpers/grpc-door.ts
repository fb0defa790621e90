/**
 * The real service started from a config file, reached through its gRPC door
 * with a real grpc-js client, as Envoy reaches it; plus the two checks every
 * gRPC test makes on an answer (a denial with a given HTTP status, an allow).
 */
import assert from 'node:assert/strict';
import { loadConfigFile } from '../../src/config/load-config.js';
import { createLogger } from '../../src/observability/logger.js';
import { startService, type RunningService } from '../../src/server/service.js';
import { envoyCheckRequest, type EnvoyCheckRequestInit } from './envoy-check-request.js';
import { createAuthzClient, type AuthzClient, type CheckResponseJs } from './grpc-client.js';

/** The external URL the OIDC tests configure, and its host as Envoy sends it. */
export const EXTERNAL_URL = 'https://kestra.example.com';
export const EXTERNAL_HOST = 'kestra.example.com';

/** Request headers of a top-level browser navigation (the service answers those with a redirect, not a 401). */
export const NAVIGATION = { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8', 'sec-fetch-mode': 'navigate' };

export type DeniedResponse = NonNullable<CheckResponseJs['denied_response']>;
export type OkResponse = NonNullable<CheckResponseJs['ok_response']>;

export interface GrpcDoor {
  readonly service: RunningService;
  readonly client: AuthzClient;
  /** One Envoy-shaped Check; `init` is laid over the door's request defaults. */
  check(init: EnvoyCheckRequestInit): Promise<CheckResponseJs>;
  close(): Promise<void>;
}

/** Starts the service from `configPath` (silent logger) and connects a client to its gRPC port. */
export async function startGrpcDoor(configPath: string, requestDefaults: EnvoyCheckRequestInit = {}): Promise<GrpcDoor> {
  const service = await startService(await loadConfigFile(configPath), { logger: createLogger('silent') });
  const client = createAuthzClient(service.grpcPort);
  return {
    service,
    client,
    check: (init) => client.check(envoyCheckRequest({ ...requestDefaults, ...init })),
    async close() {
      client.close();
      await service.close();
    },
  };
}

/** Request defaults for a browser at the OIDC tests' external URL. */
export const AT_EXTERNAL_URL: EnvoyCheckRequestInit = { host: EXTERNAL_HOST, scheme: 'https' };

/** Asserts a denial with HTTP `status` (and not gRPC OK); returns it. */
export function expectDenied(res: CheckResponseJs, status: number): DeniedResponse {
  assert.ok(res.denied_response, `expected a denial, got ${JSON.stringify(res)}`);
  assert.equal(res.denied_response.status?.code, status, `expected ${status}, got ${JSON.stringify(res.denied_response)}`);
  assert.notEqual(res.status?.code ?? 0, 0, 'a denial must not carry gRPC OK');
  return res.denied_response;
}

/** Asserts an allow (gRPC OK with an ok_response); returns the ok_response. */
export function expectAllowed(res: CheckResponseJs): OkResponse {
  assert.equal(res.status?.code ?? 0, 0, `expected allow, got ${JSON.stringify(res)}`);
  assert.ok(res.ok_response);
  return res.ok_response;
}
