/**
 * h2load (Debian nghttp2-client) as a second opinion on throughput: a load
 * generator in C, far cheaper per request than anything in node. It posts
 * one gRPC frame over and over and never reads `grpc-status` (HTTP status is
 * always 200), so the answers are checked separately with a real client.
 *
 * HTTP/1.1 mode (`http1`, for the HTTP door): `h2load --h1 -m 1`, one GET
 * with the scenario's headers over and over, one request in flight per
 * connection (`-m` above 1 would pipeline, which Envoy never does). There
 * h2load does see the HTTP status, and its per-class counts are kept.
 */
import { existsSync } from 'node:fs';
import { BenchError } from './bench-error.js';
import { CHECK_PATH } from './grpc-frames.js';
import type { ChildProcesses } from './child-processes.js';

export const H2LOAD = '/usr/bin/h2load';

/** The HTTP/1.1 request h2load sends in `http1` mode. */
export interface H2loadHttp1 {
  readonly path: string;
  /** Header lines; `host` replaces the authority h2load takes from the URL. */
  readonly headers: readonly (readonly [string, string])[];
}

export interface H2loadOptions {
  readonly port: number;
  /** gRPC mode: a file holding exactly one gRPC frame. */
  readonly bodyFile?: string;
  /** HTTP/1.1 mode (instead of bodyFile): `--h1`, GET `path` with `headers`, `streams` must be 1. */
  readonly http1?: H2loadHttp1;
  readonly connections: number;
  readonly streams: number;
  readonly warmupS: number;
  readonly durationS: number;
  readonly core: number;
}

export interface H2loadResult {
  readonly rps: number;
  readonly requests: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly errored: number;
  readonly meanMs: number | null;
  readonly maxMs: number | null;
  /** HTTP/1.1 mode only: answers by status class, from h2load's "status codes:" line. */
  readonly statusCodes?: { readonly '2xx': number; readonly '3xx': number; readonly '4xx': number; readonly '5xx': number };
  /** The command as run, for the report (an authorization header's credentials replaced by `<token>`). */
  readonly command: string;
}

export function h2loadInstalled(): boolean {
  return existsSync(H2LOAD);
}

export async function runH2load(children: ChildProcesses, options: H2loadOptions): Promise<H2loadResult> {
  const timing = ['-D', String(options.durationS), '--warm-up-time', String(options.warmupS)];
  let args: string[];
  if (options.http1 !== undefined) {
    if (options.streams !== 1) throw new BenchError('ERR_BENCH_USAGE', 'h2load --h1: one request in flight per connection (streams 1); more would pipeline');
    args = [
      '--h1', '-c', String(options.connections), '-m', '1', ...timing,
      // `-H host:` would be sent next to the Host h2load takes from the URL (two Host lines);
      // overriding `:authority` replaces it, as `-H user-agent:` replaces h2load's own.
      ...options.http1.headers.flatMap(([name, value]) => ['-H', `${name.toLowerCase() === 'host' ? ':authority' : name}: ${value}`]),
      `http://127.0.0.1:${options.port}${options.http1.path}`,
    ];
  } else {
    if (options.bodyFile === undefined) throw new BenchError('ERR_BENCH_USAGE', 'h2load: gRPC mode needs a body file');
    args = [
      '-c', String(options.connections), '-m', String(options.streams), ...timing,
      '-d', options.bodyFile,
      '-H', 'content-type: application/grpc', '-H', 'te: trailers',
      `http://127.0.0.1:${options.port}${CHECK_PATH}`,
    ];
  }
  const started = children.start('h2load', options.core, H2LOAD, args);
  const limitMs = (options.warmupS + options.durationS + 30) * 1000;
  const timer = setTimeout(() => void children.stop(started), limitMs);
  const code = await started.exited;
  clearTimeout(timer);
  if (code !== 0) throw new BenchError('ERR_BENCH_H2LOAD', `h2load exited with ${code}: ${started.stderr().trim().slice(-1000)}`);
  const output = started.stdout();
  const command = `h2load ${args.map(redactCredentials).map(quoteArg).join(' ')}`;
  if (options.http1 === undefined) return { ...parseH2loadOutput(output), command };
  return { ...parseH2loadOutput(output), statusCodes: parseStatusCodes(output), command };
}

/** A bearer token must not end up in a report or a results file: `-H 'authorization: Bearer <token>'`. */
function redactCredentials(arg: string): string {
  return /^authorization:/i.test(arg) ? arg.replace(/^(authorization:\s*\S+\s+).*$/i, '$1<token>') : arg;
}

/** h2load's "status codes: 1 2xx, 0 3xx, 0 4xx, 0 5xx". */
function parseStatusCodes(text: string): NonNullable<H2loadResult['statusCodes']> {
  const codes = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(text);
  if (!codes) throw new BenchError('ERR_BENCH_H2LOAD', 'h2load output has no "status codes:" line');
  return { '2xx': Number(codes[1]), '3xx': Number(codes[2]), '4xx': Number(codes[3]), '5xx': Number(codes[4]) };
}

function quoteArg(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** Reads h2load's summary ("finished in 10.00s, 18512.00 req/s, …", "requests: …", "time for request: …"). */
export function parseH2loadOutput(text: string): Omit<H2loadResult, 'command'> {
  const finished = /finished in [\d.]+\w*, ([\d.]+) req\/s/.exec(text);
  const requests = /requests: (\d+) total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(text);
  if (!finished || !requests) throw new BenchError('ERR_BENCH_H2LOAD', 'h2load output has no "finished in" / "requests:" summary');
  const timing = /time for request:\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)/.exec(text);
  const ms = (value: string | undefined, unit: string | undefined) =>
    value === undefined ? null : Number(value) * (unit === 'us' ? 0.001 : unit === 's' ? 1000 : 1);
  return {
    rps: Number(finished[1]),
    requests: Number(requests[1]),
    succeeded: Number(requests[2]),
    failed: Number(requests[3]),
    errored: Number(requests[4]),
    maxMs: timing ? ms(timing[3], timing[4]) : null,
    meanMs: timing ? ms(timing[5], timing[6]) : null,
  };
}
