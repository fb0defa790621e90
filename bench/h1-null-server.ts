/**
 * The floor of the HTTP door: node:http alone answering `200` with
 * `content-length: 0` to every request, reading nothing but what node:http
 * parses anyway (request line and headers). What the real HTTP door costs
 * above this is the door's own work (reading the headers into a question,
 * the decision, writing the identity headers).
 *
 *   node dist/bench/h1-null-server.js [--port N] [--host 127.0.0.1]
 */
import { createServer } from 'node:http';
import { BenchError, runMain } from './bench-error.js';
import { flag, parseFlags } from './cli-flags.js';
import { announceReady, closeOnSignal } from './server-ready.js';

async function main(): Promise<void> {
  const flags = parseFlags('h1-null-server', process.argv.slice(2), {
    port: { kind: 'int', min: 0, max: 65535 },
    host: { kind: 'string' },
  });
  const host = flag(flags, 'host', '127.0.0.1');
  const port = flag(flags, 'port', 0);
  // One headers object for every answer: the floor should not pay for building it.
  const headers = { 'content-length': '0' };

  const server = createServer({
    // As the real HTTP door: idle keep-alive connections outlive the proxy's pool timeouts, so an
    // open-loop run's spare connections are not closed under the generator between two bursts.
    keepAliveTimeout: 75_000,
  }, (_req, res) => {
    res.writeHead(200, headers);
    res.end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new BenchError('ERR_BENCH_CHILD', `h1-null-server: cannot listen on ${host}:${port}`, { cause: err })));
    server.listen(port, host, resolve);
  });
  const address = server.address();
  closeOnSignal(() => new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  }));
  announceReady('http-null', undefined, undefined, typeof address === 'object' && address ? address.port : port);
}

runMain(main);
