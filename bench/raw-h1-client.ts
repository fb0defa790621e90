/**
 * A lean HTTP/1.1 load generator for the service's HTTP door (Envoy's
 * ext_authz `http_service` mode), written directly on node:net: keep-alive
 * connections, one request in flight on each (Envoy does not pipeline),
 * requests encoded once and written as they are, answers parsed in place
 * (see raw-h1-load.ts). Prints one JSON result (a LoadResult).
 *
 *   node dist/bench/raw-h1-client.js --port N (--requests FILE | --token-file FILE)
 *        [--prefix /ext_authz] [--host 127.0.0.1] [--connections 128]
 *        [--warmup 3] [--duration 10] [--rps R] [--server-pid PID] [--max-requests N]
 *
 * --requests: a file of whole HTTP/1.1 requests back to back, sent in turn.
 * --token-file: a file holding one bearer token; the request is then the
 *   Envoy-like one of envoy-like-check.ts (GET <prefix>/api/v1/main/flows/…
 *   with the browser's headers), as the bench's gRPC scenarios send it.
 */
import { readFileSync } from 'node:fs';
import { BenchError, runMain } from './bench-error.js';
import { flag, loopbackHost, parseFlags } from './cli-flags.js';
import { BENCH_EXT_AUTHZ_PREFIX, envoyLikeHttp1Request } from './envoy-like-check.js';
import { readHttp1RequestsFile } from './raw-h1-protocol.js';
import { runRawH1Load } from './raw-h1-load.js';

async function main(): Promise<void> {
  const flags = parseFlags('raw-h1-client', process.argv.slice(2), {
    host: { kind: 'string' },
    port: { kind: 'int', min: 1, max: 65535 },
    requests: { kind: 'string' },
    'token-file': { kind: 'string' },
    prefix: { kind: 'string' },
    connections: { kind: 'int', min: 1, max: 4096 },
    warmup: { kind: 'number', min: 0, max: 600 },
    duration: { kind: 'number', min: 0.1, max: 86_400 },
    rps: { kind: 'number', min: 1, max: 1_000_000 },
    'server-pid': { kind: 'int', min: 1 },
    'max-requests': { kind: 'int', min: 1 },
  });
  const port = flags.port;
  if (typeof port !== 'number') throw new BenchError('ERR_BENCH_USAGE', 'raw-h1-client: --port N is required');
  if ((typeof flags.requests === 'string') === (typeof flags['token-file'] === 'string')) {
    throw new BenchError('ERR_BENCH_USAGE', 'raw-h1-client: give exactly one of --requests FILE and --token-file FILE');
  }
  if (typeof flags.prefix === 'string' && typeof flags.requests === 'string') {
    throw new BenchError('ERR_BENCH_USAGE', 'raw-h1-client: --prefix goes with --token-file (a requests file carries its own paths)');
  }
  if (typeof flags.rps === 'number' && typeof flags['max-requests'] === 'number') {
    throw new BenchError('ERR_BENCH_USAGE', 'raw-h1-client: --max-requests is for the closed loop (no --rps)');
  }
  const host = loopbackHost('raw-h1-client', flags);
  const requests = typeof flags.requests === 'string'
    ? readHttp1RequestsFile(flags.requests)
    : [envoyLikeHttp1Request({ token: readToken(flags['token-file'] as string), sequence: 0 }, flag(flags, 'prefix', BENCH_EXT_AUTHZ_PREFIX))];
  const num = (name: string) => (typeof flags[name] === 'number' ? flags[name] : undefined);

  const result = await runRawH1Load({
    host,
    port,
    requests,
    connections: flag(flags, 'connections', 128),
    warmupS: flag(flags, 'warmup', 3),
    durationS: flag(flags, 'duration', 10),
    rps: num('rps'),
    serverPid: num('server-pid'),
    maxRequests: num('max-requests'),
  });
  // Exit once the line is out: nothing of the run should keep the process alive.
  process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(0));
}

function readToken(path: string): string {
  let token: string;
  try {
    token = readFileSync(path, 'utf8').trim();
  } catch (err) {
    throw new BenchError('ERR_BENCH_USAGE', `raw-h1-client: cannot read token file ${path}`, { cause: err });
  }
  if (!/^[A-Za-z0-9._~+/=-]+$/.test(token)) throw new BenchError('ERR_BENCH_USAGE', `raw-h1-client: ${path} does not hold one bearer token`);
  return token;
}

runMain(main);
