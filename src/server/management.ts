/**
 * Management port (default 8081): /metrics (Prometheus), /healthz (the
 * process is alive), /readyz (config and stores ready: route traffic here).
 * Kept off the public HTTP door so metrics are never exposed through Envoy.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { registry } from '../observability/metrics.js';
import type { Runtime } from './runtime.js';
import { isJwksRequest, writeJwks } from '../identity/jwks-endpoint.js';
import type { IdentityKeyRing } from '../identity/key-ring.js';

export interface ManagementServer {
  readonly port: number;
  close(): Promise<void>;
}

export interface ManagementOptions {
  /** Names of the dependencies failing now, for the /readyz body (names only, never a URL). */
  readonly failingDependencies?: () => readonly string[];
  /** The exposition text (default: this process's registry; a `serve --workers N` primary: the group's, group-primary.ts). */
  readonly metrics?: () => Promise<string>;
  /** The identity token's key ring while it is enabled (/.well-known/jwks.json); absent or undefined = 404. */
  readonly jwks?: () => IdentityKeyRing | undefined;
}

/** `runtime`: anything that says whether to route traffic here now (a worker group's primary: its readiness). */
export async function startManagement(runtime: Pick<Runtime, 'ready'>, host: string, port: number, options: ManagementOptions = {}): Promise<ManagementServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (isJwksRequest(req)) {
      writeJwks(req, res, options.jwks?.());
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/metrics') {
      (options.metrics ?? (() => registry.metrics()))().then(
        (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
        () => res.writeHead(500).end(),
      );
      return;
    }
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      return;
    }
    if (path === '/readyz') {
      const ready = runtime.ready;
      const failing = ready ? [] : [...(options.failingDependencies?.() ?? [])];
      res.writeHead(ready ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store' })
        .end(JSON.stringify(ready ? { status: 'ready' } : { status: 'not ready', failing }));
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not_found"}');
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
