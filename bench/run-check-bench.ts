/**
 * `npm run bench`: the Check benchmark. In one run, on this machine:
 *   null    a grpc-js server that answers OK to everything (the library's floor)
 *   cached  the real service, one token over and over (token-cache hit)
 *   unique  the real service, more distinct tokens than its cache holds
 *           (a full RS256 verification per request)
 *   null-verify (on request) grpc-js + jose verifying the unique tokens, no
 *           cache and no decision: the floor the unique scenario stands on
 *   cached-idtoken (on request) `cached` with authz.identity-token on: every
 *           allow carries the signed identity token (cached, re-signed each 45 s)
 * and on request (--only) the floors below grpc-js (null-raw, h2-null) and
 * the HTTP door (Envoy's ext_authz `http_service`, HTTP/1.1):
 *   http-null    node:http answering 200 to everything (the floor of node:http)
 *   http-cached  the real service's HTTP door, the same cached token as `cached`
 * Server on core 0, load on core 1 (taskset), traffic to 127.0.0.1 only.
 * h2load, when installed, loads the null and cached servers as a second opinion.
 *
 *   node dist/bench/run-check-bench.js [--duration 10] [--warmup 3] [--repeat 1]
 *     [--connections 4] [--streams 32] [--rps R] [--unique-tokens 20000]
 *     [--token-cache-size 1000] [--only null,cached,cached-idtoken,unique,http-null,http-cached] [--h2load false]
 *     [--wait-idle 30]   (seconds to wait for other processes to go quiet before each scenario)
 *     [--generator raw]   (the only generator left: grpc-load was removed, see bench/README.md)
 *     [--request-shape minimal|envoy|large]   (how many of the original headers each Check carries)
 *     [--workers N] [--server-cores 0]   (N server processes behind one port with node:cluster, on these cores)
 *     [--server-node-flags '--cpu-prof --cpu-prof-dir=bench/results']   (node flags for every server; default none)
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BenchError, runMain } from './bench-error.js';
import { flag, parseFlags } from './cli-flags.js';
import { startBenchIssuer, type BenchIssuer } from './bench-issuer.js';
import { writeBenchConfig } from './bench-config.js';
import { REQUEST_SHAPES, encodeHttp1Request, envoyLikeCheckRequest, envoyLikeHttpCheck, type RequestShape } from './envoy-like-check.js';
import { checkCodec, encodeFrame, writeFramesFile } from './grpc-frames.js';
import { ChildProcesses } from './child-processes.js';
import { h2loadInstalled, type H2loadResult } from './h2load-run.js';
import type { LoadResult } from './load-types.js';
import { LOAD_CORE, SERVER_CORE, httpConnections, runScenario, type LoadSettings, type Scenario } from './run-scenario.js';
import { caveats, h2loadTable, medianBy, scenarioTable, type H2loadRow, type ScenarioRow } from './report-table.js';

const PROGRAMS = dirname(fileURLToPath(import.meta.url));           // dist/bench
const RESULTS_DIR = resolve(PROGRAMS, '../../bench/results');
const SCENARIO_IDS = ['null', 'null-raw', 'h2-null', 'null-verify', 'cached', 'cached-2w', 'cached-idtoken', 'unique', 'forged', 'forged-replay', 'http-null', 'http-cached'] as const;
/** The HTTP door's scenarios: reported in tables of their own, `vs null` against http-null. */
const HTTP_SCENARIO_IDS: ReadonlySet<string> = new Set(['http-null', 'http-cached']);
/** raw-h1-client's --connections limit (and far more sockets than a proxy would open to one upstream). */
const MAX_HTTP_CONNECTIONS = 4096;
/** What runs without --only: the comparison the issue asks for. The floors below it on request. */
const DEFAULT_SCENARIOS = ['null', 'cached', 'cached-2w', 'unique', 'forged', 'forged-replay'] as const;
/** What a forged token gets: 401, token_bad_signature. */
const FORGED_ANSWER = 'denied (HTTP 401)';
/**
 * `cached-2w`: `serve --workers 2` on both cores (0,1) while the generator
 * stays pinned to core 1 — the two workers and the load share the machine,
 * as the issue asks; `cached` is one worker on core 0 with the load on core 1.
 */
const TWO_WORKER_CORES = '0,1';

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
  'request-shape': { kind: 'string' },
  workers: { kind: 'int', min: 1, max: 16 },
  'server-cores': { kind: 'string' },
  'server-node-flags': { kind: 'string' },
} as const;

/** Mints (or reads back) the tokens, writes the frames files; returns the scenarios asked for. */
async function prepareScenarios(issuer: BenchIssuer, work: string, only: ReadonlySet<string>, uniqueCount: number, cacheSize: number,
  shape: RequestShape, log: (line: string) => void): Promise<Scenario[]> {
  const identityTokenConfig = writeBenchConfig({ dir: work, jwksUri: issuer.jwksUri, tokenCacheSize: cacheSize, identityToken: true });
  const codec = checkCodec();
  const frameOf = (request: object) => encodeFrame(codec.serializeRequest(request));
  const [cachedToken] = await issuer.tokens(1, log);
  const cachedRequest = envoyLikeCheckRequest({ token: cachedToken!, sequence: 0, shape });
  const cachedFrames = join(work, 'cached.bin');
  writeFramesFile(cachedFrames, [frameOf(cachedRequest)]);
  const scenarios: Scenario[] = [
    { id: 'null', title: 'null server (always OK)', server: 'null', framesFile: cachedFrames, samples: [cachedRequest], h2loadBody: cachedFrames },
    { id: 'null-raw', title: 'null, grpc-js decoding nothing', server: 'null-raw', framesFile: cachedFrames, samples: [cachedRequest], h2loadBody: cachedFrames },
    { id: 'h2-null', title: 'null on node:http2, no grpc-js', server: 'h2-null', framesFile: cachedFrames, samples: [cachedRequest], h2loadBody: cachedFrames },
    { id: 'cached', title: 'real, one cached token', server: 'real', framesFile: cachedFrames, samples: [cachedRequest], h2loadBody: cachedFrames },
    {
      id: 'cached-2w', title: 'real, one cached token, serve --workers 2 (cores 0,1)', server: 'real', framesFile: cachedFrames,
      samples: [cachedRequest], h2loadBody: cachedFrames, workers: 2, serverCores: TWO_WORKER_CORES,
    },
    {
      // The same cached Bearer token, the signed identity token on: one ES256 signature per minute, the rest reused.
      id: 'cached-idtoken', title: 'real, one cached token + signed identity token', server: 'real', framesFile: cachedFrames,
      samples: [cachedRequest], h2loadBody: cachedFrames, configFile: identityTokenConfig, preflightHeader: 'x-kestra-identity',
    },
  ];
  if (only.has('http-null') || only.has('http-cached')) {
    // The same original request as `cached`, as Envoy's HTTP ext_authz client sends it.
    const check = envoyLikeHttpCheck({ token: cachedToken!, sequence: 0, shape });
    const requestsFile = join(work, 'http-cached.req');
    writeFileSync(requestsFile, encodeHttp1Request(check), { mode: 0o600 });
    scenarios.push(
      { door: 'http', id: 'http-null', title: 'HTTP door: null, node:http answering 200', server: 'h1-null', requestsFile, check, h2load: true },
      {
        door: 'http', id: 'http-cached', title: 'HTTP door: real, one cached token', server: 'real', requestsFile, check,
        preflightHeader: 'x-kestra-user', h2load: true,
      },
    );
  }
  if (only.has('unique') || only.has('null-verify') || only.has('forged') || only.has('forged-replay')) {
    const tokens = await issuer.tokens(uniqueCount, log);
    const requests = tokens.map((token, sequence) => envoyLikeCheckRequest({ token, sequence, shape }));
    const uniqueFrames = join(work, 'unique.bin');
    writeFramesFile(uniqueFrames, requests.map(frameOf));
    const samples = [requests[0]!, requests[requests.length >> 1]!, requests[requests.length - 1]!];
    scenarios.push(
      { id: 'null-verify', title: `null + jose verify, ${uniqueCount.toLocaleString('en-US')} unique tokens`, server: 'null-verify', framesFile: uniqueFrames, samples },
      { id: 'unique', title: `real, ${uniqueCount.toLocaleString('en-US')} unique tokens (cache ${cacheSize})`, server: 'real', framesFile: uniqueFrames, samples },
    );
    // The same tokens with one signature character changed: each a full verification that fails (a forged-token flood).
    const forgedRequests = tokens.map((token, sequence) => envoyLikeCheckRequest({ token: forge(token), sequence, shape }));
    const forgedFrames = join(work, 'forged.bin');
    writeFramesFile(forgedFrames, forgedRequests.map(frameOf));
    const forgedSamples = [forgedRequests[0]!, forgedRequests[forgedRequests.length >> 1]!, forgedRequests[forgedRequests.length - 1]!];
    const replayFrames = join(work, 'forged-replay.bin');
    writeFramesFile(replayFrames, [frameOf(forgedRequests[0]!)]);
    scenarios.push(
      {
        id: 'forged', title: `real, ${uniqueCount.toLocaleString('en-US')} unique forged tokens (cache ${cacheSize})`, server: 'real',
        framesFile: forgedFrames, samples: forgedSamples, expected: FORGED_ANSWER,
      },
      {
        id: 'forged-replay', title: 'real, one forged token repeated (negative cache)', server: 'real',
        framesFile: replayFrames, samples: [forgedRequests[0]!], expected: FORGED_ANSWER,
      },
    );
  }
  return scenarios.filter((s) => only.has(s.id));
}

/** A token with one character of its signature changed (still base64url, same length): well-formed, never verifies. */
function forge(token: string): string {
  const at = token.lastIndexOf('.') + 10;
  const replacement = token[at] === 'A' ? 'B' : 'A';
  return token.slice(0, at) + replacement + token.slice(at + 1);
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
  if ([...only].some((id) => HTTP_SCENARIO_IDS.has(id)) && rps === undefined
    && flag(flags, 'connections', 4) * flag(flags, 'streams', 32) > MAX_HTTP_CONNECTIONS) {
    // HTTP/1.1 carries one request per connection: the in-flight count becomes a socket count.
    throw new BenchError('ERR_BENCH_USAGE', `run-check-bench: the HTTP door scenarios open connections × streams sockets; keep it ≤ ${MAX_HTTP_CONNECTIONS}`);
  }
  // raw-h2-client in both loops. `--generator raw` stays accepted so the commands recorded in
  // bench/README.md still run; grpc-load (`http2`) is gone: h2load is the closed-loop second opinion.
  const generator = flag(flags, 'generator', 'raw');
  if (generator !== 'raw') {
    throw new BenchError('ERR_BENCH_USAGE', 'run-check-bench: --generator: only raw is left (grpc-load was removed on 2026-12-07; h2load runs as the closed-loop second opinion)');
  }
  const shapeFlag = flag<string>(flags, 'request-shape', 'envoy');
  const shape = REQUEST_SHAPES.find((known) => known === shapeFlag);
  if (shape === undefined) throw new BenchError('ERR_BENCH_USAGE', `run-check-bench: --request-shape must be one of ${REQUEST_SHAPES.join(', ')}`);
  const workers = flag(flags, 'workers', 1);
  const serverCores = flag(flags, 'server-cores', String(SERVER_CORE));
  if (!/^[0-9]+([-,][0-9]+)*$/.test(serverCores)) throw new BenchError('ERR_BENCH_USAGE', 'run-check-bench: --server-cores takes a taskset core list, e.g. 0 or 0,1');

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
    const scenarios = await prepareScenarios(issuer, work, only, uniqueCount, tokenCacheSize, shape, log);
    const settings: LoadSettings = {
      programs: PROGRAMS,
      configFile: writeBenchConfig({ dir: work, jwksUri: issuer.jwksUri, tokenCacheSize }),
      jwksUri: issuer.jwksUri,
      workers,
      serverCores,
      // None by default, so rows stay comparable with those recorded before the flag existed.
      serverNodeFlags: flag(flags, 'server-node-flags', '').split(' ').filter(Boolean),
      connections: flag(flags, 'connections', 4),
      streams: flag(flags, 'streams', 32),
      warmupS: flag(flags, 'warmup', 3),
      durationS: flag(flags, 'duration', 10),
      rps,
      // h2load's --rps sends a 10 ms tick's requests in one burst: not an open loop (bench/README.md).
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
    const allRows = rowsOf(loads);
    const allH2Rows = rowsOf(h2loads);
    const isHttp = (row: { id: string }) => HTTP_SCENARIO_IDS.has(row.id);
    const rows = allRows.filter((r) => !isHttp(r));
    const h2Rows = allH2Rows.filter((r) => !isHttp(r));
    const httpRows = allRows.filter(isHttp);
    const httpH2Rows = allH2Rows.filter(isHttp);
    const window = `warm-up ${settings.warmupS} s, measured ${settings.durationS} s${repeat > 1 ? `, ${repeat} rounds` : ''}; `
      + `${workers > 1 ? `${workers} server workers (node:cluster)` : 'server'} on core ${serverCores}, load on core ${LOAD_CORE}${children.pinned ? '' : ' (NOT pinned)'}`
      + `${shape === 'envoy' ? '' : `; request shape: ${shape}`}`;
    const report = [
      `Check benchmark — ${machine.date}`,
      `machine: ${machine.nproc} vCPU, ${machine.cpu}, node ${machine.node}, load average at start ${machine.loadavgAtStart.join(' ')}`,
      `command: ${machine.command}`,
      ...(rows.length || !httpRows.length ? [
        `load: ${rps === undefined ? 'closed loop' : `open loop at ${rps} req/s`} by raw-h2-client, `
          + `${settings.connections} connections × ${settings.streams} streams, ${window}`,
        '',
        scenarioTable(rows),
        ...(h2Rows.length ? ['', h2loadTable(h2Rows), '', `h2load command: ${h2Rows[0]!.result.command.replace(/\S+\.bin/, 'cached.bin').replace(/127\.0\.0\.1:\d+/, '127.0.0.1:PORT')}`] : []),
      ] : []),
      ...(httpRows.length ? [
        ...(rows.length ? [''] : []),
        `HTTP door (Envoy ext_authz http_service, HTTP/1.1 GET /ext_authz/…): ${rps === undefined ? 'closed loop' : `open loop at ${rps} req/s`} by raw-h1-client, `
          + `${httpConnections(settings)} keep-alive connections × 1 request in flight (no pipelining), ${window}`,
        '',
        httpDoorTable(scenarioTable, httpRows, 'HTTP door scenario'),
        ...(httpH2Rows.length ? [
          '', httpDoorTable(h2loadTable, httpH2Rows, 'HTTP door scenario (h2load --h1)'),
          '', `h2load command: ${httpH2Rows[0]!.result.command.replace(/127\.0\.0\.1:\d+/, '127.0.0.1:PORT')}`,
        ] : []),
      ] : []),
      ...caveats([...rows, ...httpRows]).map((line) => `\nnote: ${line}`),
      ...httpH2Rows.filter((r) => r.result.statusCodes && r.result.statusCodes['2xx'] !== r.result.succeeded + r.result.failed)
        .map((r) => `\nnote: ${r.title} (h2load): not every answer was 2xx — ${JSON.stringify(r.result.statusCodes)}.`),
      '',
      `JWKS requests served: ${issuer.jwksRequests}`,
    ].join('\n');
    process.stdout.write(`${report}\n`);

    const resultsFile = join(RESULTS_DIR, `check-bench-${machine.date.replace(/[:.]/g, '-')}.json`);
    writeFileSync(resultsFile, JSON.stringify({ machine, settings: { ...settings, programs: undefined }, scenarios: allRows, h2load: allH2Rows }, null, 2));
    log(`results: ${resultsFile}`);
  } finally {
    await children.stopAll();
    await issuer.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * An HTTP door table: the same columns as the gRPC tables, its first column
 * named so the rows cannot be taken for gRPC ones, and `vs null` computed
 * against http-null (the report tables take the row with id `null` as the base).
 */
function httpDoorTable<R extends ScenarioRow | H2loadRow>(render: (rows: readonly R[]) => string, rows: readonly R[], firstColumn: string): string {
  const table = render(rows.map((row) => (row.id === 'http-null' ? { ...row, id: 'null' } : row)));
  return table.replace(/^\| scenario( \(h2load\))? \|/, `| ${firstColumn} |`);
}

runMain(main);
