/**
 * Load generator for envoy.service.auth.v3.Authorization/Check on node:http2
 * (not grpc-js: the generator must cost less per request than the server it
 * loads). Prints one JSON result (see LoadResult in check-load.ts).
 *
 *   node dist/bench/grpc-load.js --port N --frames FILE
 *        [--host 127.0.0.1] [--connections 4] [--streams 32]
 *        [--warmup 3] [--duration 10] [--rps R] [--server-pid PID]
 *
 * FILE holds gRPC frames back to back (5-byte prefix + CheckRequest); the
 * generator cycles through them, so each request can carry its own token.
 */
import { BenchError, runMain } from './bench-error.js';
import { flag, loopbackHost, parseFlags } from './cli-flags.js';
import { checkCodec, readFramesFile } from './grpc-frames.js';
import { runCheckLoad } from './check-load.js';

async function main(): Promise<void> {
  const flags = parseFlags('grpc-load', process.argv.slice(2), {
    host: { kind: 'string' },
    port: { kind: 'int', min: 1, max: 65535 },
    frames: { kind: 'string' },
    connections: { kind: 'int', min: 1, max: 256 },
    streams: { kind: 'int', min: 1, max: 1000 },
    warmup: { kind: 'number', min: 0, max: 600 },
    duration: { kind: 'number', min: 0.1, max: 3600 },
    rps: { kind: 'number', min: 1, max: 1_000_000 },
    'server-pid': { kind: 'int', min: 1 },
  });
  const port = flags.port;
  const framesFile = flags.frames;
  if (typeof port !== 'number') throw new BenchError('ERR_BENCH_USAGE', 'grpc-load: --port N is required');
  if (typeof framesFile !== 'string') throw new BenchError('ERR_BENCH_USAGE', 'grpc-load: --frames FILE is required');
  const host = loopbackHost('grpc-load', flags);

  const result = await runCheckLoad({
    host,
    port,
    frames: readFramesFile(framesFile),
    connections: flag(flags, 'connections', 4),
    streams: flag(flags, 'streams', 32),
    warmupS: flag(flags, 'warmup', 3),
    durationS: flag(flags, 'duration', 10),
    rps: typeof flags.rps === 'number' ? flags.rps : undefined,
    codec: checkCodec(),
    serverPid: typeof flags['server-pid'] === 'number' ? flags['server-pid'] : undefined,
  });
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

runMain(main);
