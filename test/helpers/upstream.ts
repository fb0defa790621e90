/**
 * A tiny upstream for proxy tests: answers every request with 200 and a JSON
 * echo of what it received (method, url, headers exactly as they arrived,
 * repeated headers kept as arrays), so a test can see what a proxy let
 * through — e.g. that a spoofed identity header never reached it.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface EchoedRequest {
  readonly method: string;
  /** Path and query as the upstream received them. */
  readonly url: string;
  /** Lower-case names; a header sent several times has several values. */
  readonly headers: Readonly<Record<string, readonly string[]>>;
}

export interface Upstream {
  readonly port: number;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** Every request served so far, oldest first. */
  readonly requests: readonly EchoedRequest[];
  stop(): Promise<void>;
}

/** First value of a header in an echo, or undefined when it did not arrive. */
export function echoedHeader(echo: EchoedRequest, name: string): string | undefined {
  return echo.headers[name.toLowerCase()]?.[0];
}

function echoOf(req: IncomingMessage): EchoedRequest {
  const headers: Record<string, string[]> = {};
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    (headers[name] ??= []).push(raw[i + 1]!);
  }
  return { method: req.method ?? '', url: req.url ?? '', headers };
}

export async function startUpstream(): Promise<Upstream> {
  const requests: EchoedRequest[] = [];
  const server: Server = createServer((req, res) => {
    const echo = echoOf(req);
    requests.push(echo);
    // The body is not echoed; drain it so keep-alive connections stay usable.
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json', 'x-upstream': 'echo' }).end(JSON.stringify(echo));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    requests,
    stop: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
