/**
 * `npm run bench`: the Check benchmark. In one run, on this machine:
 *   null    a grpc-js server that answers OK to everything (the library's floor)
 *   cached  the real service, one token over and over (token-cache hit)
 *   unique  the real service, more distinct tokens than its cache holds
 *           (a full RS256 verification per request)
 * Server on core 0, load on core 1 (taskset), traffic to 127.0.0.1 only.
 * h2load, when installed, loads the null and cached servers as a second opinion.
 *
 *   node dist/bench/run-check-bench.js [--duration 10] [--warmup 3] [--repeat 1]
 *     [--connections 4] [--streams 32] [--rps R] [--unique-tokens 20000]
 *     [--token-cache-size 1000] [--only null,cached,unique] [--h2load false]
 *     [--wait-idle 30]   (seconds to wait for other processes to go quiet before each scenario)
 *     [--generator raw|http2]   (load generator; default raw with --rps, http2 in closed loop)
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BenchError, runMain } from './bench-error.js';
import { flag, parseFlags } from './cli-flags.js';
import { startBenchIssuer, type BenchIssuer } from './bench-issuer.js';
import { writeBenchConfig } from './bench-config.js';
import { envoyLikeCheckRequest } from './envoy-like-check.js';
import { checkCodec, encodeFrame, writeFramesFile } from './grpc-frames.js';
import { ChildProcesses } from './child-processes.js';
import { h2loadInstalled, type H2loadResult } from './h2load-run.js';
import type { LoadResult } from './load-types.js';
import { LOAD_CORE, SERVER_CORE, runScenario, type LoadSettings, type Scenario } from './run-scenario.js';
import { caveats, h2loadTable, medianBy, scenarioTable } from './report-table.js';

const PROGRAMS = dirname(fileURLToPath(import.meta.url));           // dist/bench
const RESULTS_DIR = resolve(PROGRAMS, '../../bench/results');
const SCENARIO_IDS = ['null', 'null-raw', 'h2-null', 'cached', 'unique'] as const;
/** What runs without --only: the comparison the issue asks for. The floors below it on request. */
const DEFAULT_SCENARIOS = ['null', 'cached', 'unique'] as const;

const FLAGS = {
  duration: { kind: 'number', min: 1, max: 300 },
  warmup: { kind: 'number', min: 0, max: 60 },
  repeat: { kind: 'int', min: 1, max: 5 },
  connections: { kind: 'int', min: 1, max: 64 },
  streams: { kind: 'int', min: 1, max: 256 },
  rps: { kind: 'number', min: 1, max: 200_000 },
  'unique-tokens': { kind: 'int', min: 2, max: 200_000 },
  'token-cache-size': { kind: 'int', min: 0, max: 1_000_000 },
  only: { kind: 'string' },
  h2load: { kind: 'boolean' },
  'wait-idle': { kind: 'number', min: 0, max: 600 },
  generator: { kind: 'string' },
} as const;

/** Mints (or reads back) the tokens, writes the frames files; returns the scenarios asked for. */
async function prepareScenarios(issuer: BenchIssuer, work: string, only: ReadonlySet<string>, uniqueCount: number, cacheSize: number,
  log: (line: string) => void): Promise<Scenario[]> {
  const codec = checkCodec();
  const frameOf = (request: object) => encodeFrame(codec.serializeRequest(request));
  const [cachedToken] = await issuer.tokens(1, log);
  const cachedRequest = envoyLikeCheckRequest({ token: cachedToken!, sequence: 0 });
  const cachedFrames = join(work, 'cached.bin');
  writeFramesFile(cachedFrames, [frameOf(cachedRequest)]);
  const scenarios: Scenario[] = [
    { id: 'null', title: 'null server (always OK)', server: 'null', framesFile: cachedFrames, samples: [cachedRequest], h2loadBody: cachedFrames },
    { id: 'null-raw', title: 'null, grpc-js decoding nothing', server: 'null-raw', framesFile: cachedFrames, samples: [cachedRequest], h2loadBody: cachedFrames },
    { id: 'h2-null', title: 'null on node:http2, no grpc-js', server: 'h2-null', framesFile: cachedFrames, samples: [cachedRequest], h2loadBody: cachedFrames },
    { id: 'cached', title: 'real, one cached token', server: 'real', framesFile: cachedFrames, samples: [cachedRequest], h2loadBody: cachedFrames },
  ];
  if (only.has('unique')) {
    const tokens = await issuer.tokens(uniqueCount, log);
    const requests = tokens.map((token, sequence) => envoyLikeCheckRequest({ token, sequence }));
    const uniqueFrames = join(work, 'unique.bin');
    writeFramesFile(uniqueFrames, requests.map(frameOf));
    scenarios.push({
      id: 'unique', title: `real, ${uniqueCount.toLocaleString('en-US')} unique tokens (cache ${cacheSize})`, server: 'real',
      framesFile: uniqueFrames, samples: [requests[0]!, requests[requests.length >> 1]!, requests[requests.length - 1]!],
    });
  }
  return scenarios.filter((s) => only.has(s.id));
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const flags = parseFlags('run-check-bench', argv, FLAGS);
  const repeat = flag(flags, 'repeat', 1);
  const uniqueCount = flag(flags, 'unique-tokens', 20_000);
  const tokenCacheSize = flag(flags, 'token-cache-size', 1000);
  const only = new Set(flag(flags, 'only', DEFAULT_SCENARIOS.join(',')).split(',').map((s) => s.trim()));
  for (const id of only) {
    if (!(SCENARIO_IDS as readonly string[]).includes(id)) throw new BenchError('ERR_BENCH_USAGE', `run-check-bench: --only: unknown scenario "${id}"`);
  }
  if (uniqueCount <= tokenCacheSize) {
    throw new BenchError('ERR_BENCH_USAGE', 'run-check-bench: --unique-tokens must exceed --token-cache-size, or the unique scenario would hit the cache');
  }
  const rps = typeof flags.rps === 'number' ? flags.rps : undefined;
  // Open loop needs a generator whose own GC does not delay sends: the raw one. Closed loop keeps
  // grpc-load by default so its numbers stay comparable with the results recorded so far.
  const generator = flag(flags, 'generator', rps === undefined ? 'http2' : 'raw');
  if (generator !== 'raw' && generator !== 'http2') throw new BenchError('ERR_BENCH_USAGE', 'run-check-bench: --generator must be raw or http2');

  const log = (line: string) => process.stderr.write(`${line}\n`);
  const children = new ChildProcesses();
  if (!children.pinned) log('note: taskset or a second core is missing: server and load share the CPU; ratios still hold, absolute numbers do not');
  const machine = {
    date: new Date().toISOString(),
    nproc: availableParallelism(),
    cpu: cpus()[0]?.model ?? 'unknown',
    node: process.version,
    loadavgAtStart: loadavg().map((n) => Number(n.toFixed(2))),
    command: `node dist/bench/run-check-bench.js ${argv.join(' ')}`.trim(),
    pinned: children.pinned,
  };

  mkdirSync(RESULTS_DIR, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), 'kestra-authz-bench-'));
  const issuer = await startBenchIssuer(RESULTS_DIR);
  try {
    const scenarios = await prepareScenarios(issuer, work, only, uniqueCount, tokenCacheSize, log);
    const settings: LoadSettings = {
      programs: PROGRAMS,
      configFile: writeBenchConfig({ dir: work, jwksUri: issuer.jwksUri, tokenCacheSize }),
      connections: flag(flags, 'connections', 4),
      streams: flag(flags, 'streams', 32),
      warmupS: flag(flags, 'warmup', 3),
      durationS: flag(flags, 'duration', 10),
      rps,
      generator,
      // h2load has no fixed-rate mode comparable to the open loop.
      h2load: flag(flags, 'h2load', true) && h2loadInstalled() && rps === undefined,
      waitIdleS: flag(flags, 'wait-idle', 30),
    };

    // Rounds interleave the scenarios, so a slow drift of the machine hits them all alike.
    const loads = new Map<string, LoadResult[]>();
    const h2loads = new Map<string, H2loadResult[]>();
    for (let round = 1; round <= repeat; round++) {
      for (const scenario of scenarios) {
        log(`[${round}/${repeat}] ${scenario.title}`);
        const run = await runScenario(children, scenario, settings, log);
        loads.set(scenario.id, [...(loads.get(scenario.id) ?? []), run.load]);
        if (run.h2load) h2loads.set(scenario.id, [...(h2loads.get(scenario.id) ?? []), run.h2load]);
      }
    }

    const rowsOf = <T extends { rps: number }>(runs: Map<string, T[]>) => scenarios.filter((s) => runs.has(s.id)).map((s) => {
      const list = runs.get(s.id)!;
      return { id: s.id, title: s.title, result: medianBy(list, (r) => r.rps), repeats: list.map((r) => r.rps) };
    });
    const rows = rowsOf(loads);
    const h2Rows = rowsOf(h2loads);
    const report = [
      `Check benchmark — ${machine.date}`,
      `machine: ${machine.nproc} vCPU, ${machine.cpu}, node ${machine.node}, load average at start ${machine.loadavgAtStart.join(' ')}`,
      `command: ${machine.command}`,
      `load: ${rps === undefined ? 'closed loop' : `open loop at ${rps} req/s`} by ${generator === 'raw' ? 'raw-h2-client' : 'grpc-load'}, `
        + `${settings.connections} connections × ${settings.streams} streams, `
        + `warm-up ${settings.warmupS} s, measured ${settings.durationS} s${repeat > 1 ? `, ${repeat} rounds` : ''}; `
        + `server on core ${SERVER_CORE}, load on core ${LOAD_CORE}${children.pinned ? '' : ' (NOT pinned)'}`,
      '',
      scenarioTable(rows),
      ...(h2Rows.length ? ['', h2loadTable(h2Rows), '', `h2load command: ${h2Rows[0]!.result.command.replace(/\S+\.bin/, 'cached.bin').replace(/127\.0\.0\.1:\d+/, '127.0.0.1:PORT')}`] : []),
      ...caveats(rows).map((line) => `\nnote: ${line}`),
      '',
      `JWKS requests served: ${issuer.jwksRequests}`,
    ].join('\n');
    process.stdout.write(`${report}\n`);

    const resultsFile = join(RESULTS_DIR, `check-bench-${machine.date.replace(/[:.]/g, '-')}.json`);
    writeFileSync(resultsFile, JSON.stringify({ machine, settings: { ...settings, programs: undefined }, scenarios: rows, h2load: h2Rows }, null, 2));
    log(`results: ${resultsFile}`);
  } finally {
    await children.stopAll();
    await issuer.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

runMain(main);
