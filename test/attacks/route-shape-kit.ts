/**
 * The real service the route-shape attack tests run against (gRPC door and
 * HTTP door), with the two identities they use, and how they compare
 * decisions:
 * - `viewer`: the default role (FLOW:READ + EXECUTION:READ in every namespace);
 * - `dev`: the developer role (FLOW CRUD, EXECUTION CREATE/READ/UPDATE) bound
 *   to `company.team` only (test/helpers/bearer-service-config.ts).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { bearerServiceYaml } from '../helpers/bearer-service-config.js';
import type { CheckResponseJs } from '../helpers/grpc-client.js';
import { startGrpcDoor, type GrpcDoor } from '../helpers/grpc-door.js';
import { startTokenIssuer } from '../helpers/token-issuer.js';

export const API = { accept: 'application/json' };

/** What a decision was: status, reason and the rule that made it. */
export interface Outcome { status: number; reason: string; rule: string }

export function outcomeOf(res: CheckResponseJs): Outcome {
  const fields = res.dynamic_metadata?.fields ?? {};
  const status = res.denied_response ? res.denied_response.status?.code ?? 0 : 200;
  return { status, reason: fields.reason?.stringValue ?? '', rule: fields.rule?.stringValue ?? '' };
}

export interface RouteShapeService {
  readonly door: GrpcDoor;
  /** `http://127.0.0.1:<http door port>` */
  readonly httpDoor: string;
  readonly viewer: Record<string, string>;
  readonly dev: Record<string, string>;
  /** One Envoy-shaped Check (JSON client) with `method` and `path` (query included). */
  check(method: string, path: string, headers?: Record<string, string>): Promise<CheckResponseJs>;
  /** The HTTP door answering `method url` (status, JSON error and namespace). */
  ask(url: string, method: string, headers?: Record<string, string>): Promise<{ status: number; error?: string; namespace?: string }>;
  close(): Promise<void>;
}

export async function startRouteShapeService(): Promise<RouteShapeService> {
  const dir = await mkdtemp(join(tmpdir(), 'kauthz-route-shapes-'));
  const issuer = await startTokenIssuer();
  await issuer.addKey('k1');
  const configPath = join(dir, 'config.yaml');
  await writeFile(configPath, bearerServiceYaml({ dir, issuer: issuer.issuer }));
  const door = await startGrpcDoor(configPath);
  const httpDoor = `http://127.0.0.1:${door.service.httpPort}`;
  const viewer = { authorization: `Bearer ${await issuer.mint({ sub: 'u-viewer', preferred_username: 'viewer', aud: 'kestra' })}` };
  const dev = { authorization: `Bearer ${await issuer.mint({ sub: 'u-dev', preferred_username: 'dev', aud: 'kestra', resource_access: { kestra: { roles: ['kestra-devs'] } } })}` };
  return {
    door,
    httpDoor,
    viewer,
    dev,
    check: (method, path, headers = {}) => door.check({ method, path, headers: { ...API, ...headers } }),
    async ask(url, method, headers = {}) {
      const res = await fetch(`${httpDoor}${url}`, { method, headers: { ...API, ...headers } });
      const text = await res.text();
      const body = text ? JSON.parse(text) as { error?: string; namespace?: string } : {};
      return { status: res.status, error: body.error, namespace: body.namespace };
    },
    async close() {
      await door.close();
      await issuer.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The service of one describe(): what its tests use. */
export interface RouteShapeSuite {
  /** Headers carrying each identity's token; filled in the suite's `before`. */
  readonly viewer: Record<string, string>;
  readonly dev: Record<string, string>;
  check: RouteShapeService['check'];
  ask: RouteShapeService['ask'];
  /** The running service itself (its door, for a health check). */
  running(): RouteShapeService;
}

/**
 * Starts the service in the enclosing describe()'s `before` and closes it in
 * its `after`; call it at the top of the describe() body.
 */
export function routeShapeSuite(): RouteShapeSuite {
  const viewer: Record<string, string> = {};
  const dev: Record<string, string> = {};
  let svc: RouteShapeService | undefined;
  before(async () => {
    svc = await startRouteShapeService();
    Object.assign(viewer, svc.viewer);
    Object.assign(dev, svc.dev);
  });
  after(async () => {
    await svc?.close();
  });
  const running = (): RouteShapeService => {
    assert.ok(svc, 'the route-shape service is started by the suite\'s before hook');
    return svc;
  };
  return {
    viewer,
    dev,
    check: (method, path, headers = {}) => running().check(method, path, headers),
    ask: (url, method, headers = {}) => running().ask(url, method, headers),
    running,
  };
}
