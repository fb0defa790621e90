/**
 * A TCP relay on 127.0.0.1 in front of a real server (Redis, PostgreSQL, an
 * IdP…) that a test can cut and resume, so "the dependency went away" happens
 * for the service under test only — the shared server keeps running for
 * everybody else.
 *
 * - `cut()`: every relayed connection is destroyed and new connections are
 *   accepted and closed at once (the port stays ours, so nothing else can
 *   take it and resume() cannot fail with EADDRINUSE). Clients see resets,
 *   exactly like a server that went down.
 * - `resume()`: new connections are relayed again; clients reconnect by
 *   themselves (that is what the fault tests check).
 * - `connections` counts accepted connections (relayed or refused), so a test
 *   can see that a client really came back.
 */
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

export interface TcpCutProxy {
  /** `127.0.0.1:<port>` to give the service instead of the real server. */
  readonly hostPort: string;
  readonly port: number;
  /** True between cut() and resume(). */
  readonly isCut: boolean;
  readonly connections: number;
  cut(): void;
  resume(): void;
  close(): Promise<void>;
}

export async function startTcpCutProxy(target: { host: string; port: number }): Promise<TcpCutProxy> {
  const live = new Set<Socket>();
  let isCut = false;
  let connections = 0;

  const server = createServer((inbound) => {
    connections++;
    if (isCut) {
      inbound.destroy();
      return;
    }
    const outbound = connect(target.port, target.host);
    live.add(inbound).add(outbound);
    const drop = () => {
      inbound.destroy();
      outbound.destroy();
      live.delete(inbound);
      live.delete(outbound);
    };
    inbound.on('error', drop).on('close', drop);
    outbound.on('error', drop).on('close', drop);
    inbound.pipe(outbound).pipe(inbound);
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;

  return {
    hostPort: `127.0.0.1:${port}`,
    port,
    get isCut() { return isCut; },
    get connections() { return connections; },
    cut() {
      isCut = true;
      for (const socket of live) socket.destroy();
      live.clear();
    },
    resume() {
      isCut = false;
    },
    close: () => new Promise<void>((resolve) => {
      isCut = true;
      for (const socket of live) socket.destroy();
      live.clear();
      server.close(() => resolve());
    }),
  };
}
