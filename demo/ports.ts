/**
 * Ports for the demo's servers. Fixed, memorable defaults (4180…) so the URL
 * to open is the same every run; when one is taken — or when `--random-ports`
 * asks (tests) — any free loopback port instead.
 */
import type { Server } from 'node:http';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';

export const DEFAULT_PORTS = {
  proxy: 4180,
  idp: 4181,
  upstream: 4182,
  http: 4183,
  grpc: 4184,
  management: 4185,
} as const;

export type PortName = keyof typeof DEFAULT_PORTS;

function tryListen(server: Server, port: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      if (err.code === 'EADDRINUSE' || err.code === 'EACCES') resolve(false);
      else reject(err);
    };
    const onListening = () => {
      server.off('error', onError);
      resolve(true);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, '127.0.0.1');
  });
}

/** Listens on 127.0.0.1:`preferred` (0 = any), falling back to any free port; returns the port bound. */
export async function listenOnPreferredPort(server: Server, preferred: number): Promise<number> {
  if (preferred === 0 || !(await tryListen(server, preferred))) {
    if (!(await tryListen(server, 0))) throw new Error('no free port on 127.0.0.1');
  }
  return (server.address() as AddressInfo).port;
}

/** Whether nothing listens on 127.0.0.1:`port` right now. */
function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

async function anyFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/**
 * A port for a server another process will bind (kestra-authz, Caddy):
 * `preferred` when free a moment ago, else any free one. `taken` holds ports
 * already handed out, so two picks never collide with each other.
 */
export async function pickPort(preferred: number, taken: Set<number>): Promise<number> {
  if (preferred !== 0 && !taken.has(preferred) && (await isFree(preferred))) {
    taken.add(preferred);
    return preferred;
  }
  for (;;) {
    const port = await anyFreePort();
    if (!taken.has(port)) {
      taken.add(port);
      return port;
    }
  }
}
