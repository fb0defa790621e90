/**
 * h2load (Debian nghttp2-client) as a second opinion on throughput: a load
 * generator in C, far cheaper per request than anything in node. It posts
 * one gRPC frame over and over and never reads `grpc-status` (HTTP status is
 * always 200), so the answers are checked separately with a real client.
 */
import { existsSync } from 'node:fs';
import { BenchError } from './bench-error.js';
import { CHECK_PATH } from './grpc-frames.js';
import type { ChildProcesses } from './child-processes.js';

export const H2LOAD = '/usr/bin/h2load';

export interface H2loadOptions {
  readonly port: number;
  /** A file holding exactly one gRPC frame. */
  readonly bodyFile: string;
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
  /** The command as run, for the report. */
  readonly command: string;
}

export function h2loadInstalled(): boolean {
  return existsSync(H2LOAD);
}

export async function runH2load(children: ChildProcesses, options: H2loadOptions): Promise<H2loadResult> {
  const args = [
    '-c', String(options.connections), '-m', String(options.streams),
    '-D', String(options.durationS), '--warm-up-time', String(options.warmupS),
    '-d', options.bodyFile,
    '-H', 'content-type: application/grpc', '-H', 'te: trailers',
    `http://127.0.0.1:${options.port}${CHECK_PATH}`,
  ];
  const started = children.start('h2load', options.core, H2LOAD, args);
  const limitMs = (options.warmupS + options.durationS + 30) * 1000;
  const timer = setTimeout(() => void children.stop(started), limitMs);
  const code = await started.exited;
  clearTimeout(timer);
  if (code !== 0) throw new BenchError('ERR_BENCH_H2LOAD', `h2load exited with ${code}: ${started.stderr().trim().slice(-1000)}`);
  return { ...parseH2loadOutput(started.stdout()), command: `h2load ${args.map(quoteArg).join(' ')}` };
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
