/**
 * A lean gRPC load generator for envoy.service.auth.v3.Authorization/Check,
 * written directly on node:net (HTTP/2 framing by hand, see raw-h2-*.ts):
 * per request it copies a pre-encoded header block and the request frame
 * into pooled buffers and allocates next to nothing, so its own GC no longer
 * delays sends the way node:http2's client does. Prints one JSON result (a
 * LoadResult, plus answers per source kind); with --report-every, one JSON
 * line per interval before it.
 *
 *   node dist/bench/raw-h2-client.js --port N (--frames FILE | --mix FILE)
 *        [--host 127.0.0.1] [--connections 4] [--streams 32]
 *        [--warmup 3] [--duration 10] [--rps R] [--server-pid PID]
 *        [--max-requests N] [--report-every S] [--max-stream-id N]
 */
import { BenchError, runMain } from './bench-error.js';
import { flag, loopbackHost, parseFlags } from './cli-flags.js';
import { readFramesFile } from './grpc-frames.js';
import { cycleSource, readMixFile } from './raw-h2-frame-source.js';
import { runRawLoad } from './raw-h2-load.js';

async function main(): Promise<void> {
  const flags = parseFlags('raw-h2-client', process.argv.slice(2), {
    host: { kind: 'string' },
    port: { kind: 'int', min: 1, max: 65535 },
    frames: { kind: 'string' },
    mix: { kind: 'string' },
    connections: { kind: 'int', min: 1, max: 256 },
    streams: { kind: 'int', min: 1, max: 1000 },
    warmup: { kind: 'number', min: 0, max: 600 },
    duration: { kind: 'number', min: 0.1, max: 86_400 },
    rps: { kind: 'number', min: 1, max: 1_000_000 },
    'server-pid': { kind: 'int', min: 1 },
    'max-requests': { kind: 'int', min: 1 },
    'report-every': { kind: 'number', min: 0.1, max: 3600 },
    'max-stream-id': { kind: 'int', min: 3, max: 2 ** 31 - 1 },
  });
  const port = flags.port;
  if (typeof port !== 'number') throw new BenchError('ERR_BENCH_USAGE', 'raw-h2-client: --port N is required');
  if ((typeof flags.frames === 'string') === (typeof flags.mix === 'string')) {
    throw new BenchError('ERR_BENCH_USAGE', 'raw-h2-client: give exactly one of --frames FILE and --mix FILE');
  }
  const host = loopbackHost('raw-h2-client', flags);
  const source = typeof flags.frames === 'string' ? cycleSource(readFramesFile(flags.frames)) : readMixFile(flags.mix as string);
  const num = (name: string) => (typeof flags[name] === 'number' ? flags[name] : undefined);

  const result = await runRawLoad({
    host,
    port,
    source,
    connections: flag(flags, 'connections', 4),
    streams: flag(flags, 'streams', 32),
    warmupS: flag(flags, 'warmup', 3),
    durationS: flag(flags, 'duration', 10),
    rps: num('rps'),
    serverPid: num('server-pid'),
    maxRequests: num('max-requests'),
    reportEveryS: num('report-every'),
    maxStreamId: num('max-stream-id'),
    onInterval: (report) => process.stdout.write(`${JSON.stringify(report)}\n`),
  });
  // Exit once the line is out: timers of a run cut short by --max-requests must not keep the process alive.
  process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(0));
}

runMain(main);
