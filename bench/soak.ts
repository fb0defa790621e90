/**
 * `npm run soak`: the real service under a steady mixed load for minutes,
 * watching its memory and its latency minute by minute.
 *
 *   node dist/bench/soak.js [--minutes 10] [--rps R | --capacity C] [--load-percent 70]
 *        [--warmup 10] [--connections 4] [--streams 32] [--wrong-per-second 1] [--wait-idle 0]
 *        [--token-cache-size 10000]    (the service's default)
 *        [--server-node-flags '--max-old-space-size=160']   (default: npm start's flags, the heap cap)
 *   node dist/bench/soak.js --distinct-tokens 1000000     (memory after N never-seen tokens)
 *
 * Soak: without --rps, capacity is measured first (closed loop, 10 s, on a
 * fresh server, the same mix without the new-token and wrong-password kinds)
 * unless --capacity gives it; the soak then runs at --load-percent of it in
 * open loop (raw-h2-client) on another fresh server. The mix is described
 * in soak-mix.ts; every kind's answers are checked against what it must get.
 * Server pinned to core 0, generator to core 1, traffic to 127.0.0.1 only.
 * Memory (VmRSS from /proc, heap used and resident from /metrics) is sampled
 * before the load, at each minute, right after the load and 10 s later.
 * Prints Markdown tables; writes every number to bench/results/soak-*.json.
 */
import { DEFAULTS } from '../src/config/config-defaults.js';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hashPassword } from '../src/authn/password-hash.js';
import { BenchError, runMain } from './bench-error.js';
import { writeBenchConfig } from './bench-config.js';
import { BENCH_GROUP, startBenchIssuer } from './bench-issuer.js';
import { ChildProcesses, type Started } from './child-processes.js';
import { flag, parseFlags } from './cli-flags.js';
import { expectAllowed } from './grpcjs-preflight.js';
import { waitForIdleMachine } from './proc-cpu.js';
import type { IntervalReport, RawLoadResult } from './raw-h2-load.js';
import { LOAD_CORE, SERVER_CORE } from './run-scenario.js';
import { shippedNodeFlags } from './shipped-node-flags.js';
import { DEFAULT_SHARES, EXPECTED, SOAK_BASIC_PASSWORD, SOAK_OUTSIDER_GROUP, usersYaml, writeSoakMix } from './soak-mix.js';
import { sampleMemory, type MemorySample } from './soak-memory.js';
import { distinctTokens } from './soak-tokens.js';

const PROGRAMS = dirname(fileURLToPath(import.meta.url));
const RESULTS_DIR = resolve(PROGRAMS, '../../bench/results');
/** The service's default token-cache-size: the soak runs the product as shipped unless --token-cache-size says otherwise. */
const DEFAULT_TOKEN_CACHE_SIZE = DEFAULTS.tokenCacheSize;
const RSS_LIMIT_MB = 256;

const FLAGS = {
  minutes: { kind: 'number', min: 0.1, max: 240 },
  rps: { kind: 'number', min: 1, max: 200_000 },
  capacity: { kind: 'number', min: 1, max: 200_000 },
  'load-percent': { kind: 'number', min: 1, max: 100 },
  warmup: { kind: 'number', min: 0, max: 120 },
  connections: { kind: 'int', min: 1, max: 64 },
  streams: { kind: 'int', min: 1, max: 256 },
  'wrong-per-second': { kind: 'number', min: 0, max: 100 },
  'distinct-tokens': { kind: 'int', min: 1000, max: 10_000_000 },
  'wait-idle': { kind: 'number', min: 0, max: 600 },
  'token-cache-size': { kind: 'int', min: 0, max: 10_000_000 },
  'server-node-flags': { kind: 'string' },
} as const;

interface ServerReady { ready: true; grpcPort: number; managementPort: number; pid: number }
const isReady = (v: unknown): v is ServerReady => (v as ServerReady).ready === true && typeof (v as ServerReady).managementPort === 'number';
const isResult = (v: unknown): v is RawLoadResult => (v as RawLoadResult).generator === 'raw-h2' && typeof (v as RawLoadResult).rps === 'number';
const isInterval = (v: unknown): v is IntervalReport => typeof (v as IntervalReport).interval === 'number';

const log = (line: string) => process.stderr.write(`${line}\n`);
const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Node flags for the server process (`--server-node-flags`); by default those the service ships with. */
let serverNodeFlags: string[] = [];

async function startServer(children: ChildProcesses, configFile: string, name: string): Promise<{ server: Started; ready: ServerReady }> {
  const server = children.start(name, SERVER_CORE, process.execPath, [...serverNodeFlags, join(PROGRAMS, 'real-server.js'), '--config', configFile]);
  return { server, ready: await children.jsonLine(server, isReady, 20_000) };
}

interface GeneratorRun { result: RawLoadResult; intervals: IntervalReport[]; memory: MemorySample[] }

/** Runs raw-h2-client to the end, sampling the server's memory at each interval line. */
async function runGenerator(children: ChildProcesses, ready: ServerReady, args: readonly string[], timeoutS: number): Promise<GeneratorRun> {
  const generator = children.start('raw-h2-client', LOAD_CORE, process.execPath, [
    join(PROGRAMS, 'raw-h2-client.js'), '--port', String(ready.grpcPort), '--server-pid', String(ready.pid), ...args,
  ]);
  const intervals: IntervalReport[] = [];
  const memory: MemorySample[] = [];
  let exited = false;
  void generator.exited.then(() => { exited = true; });
  const deadline = Date.now() + timeoutS * 1000;
  for (;;) {
    const lines = generator.stdout().split('\n').map(parse).filter((v) => v !== undefined);
    for (const line of lines.filter(isInterval).slice(intervals.length)) {
      intervals.push(line);
      memory.push(await sampleMemory(ready.pid, ready.managementPort, line.atS, `interval ${line.interval}`));
      log(`  ${line.atS.toFixed(0)} s: ${Math.round(line.intervalRps)} Check/s, p50 ${line.latency.p50Ms} ms, p99 ${line.latency.p99Ms} ms, `
        + `errors ${line.errors}, VmRSS ${memory.at(-1)!.vmRssMb} MB, heap ${memory.at(-1)!.heapUsedMb} MB`);
    }
    const result = lines.find(isResult);
    if (result) {
      await children.stop(generator);
      return { result, intervals, memory };
    }
    if (exited || Date.now() > deadline) {
      throw new BenchError('ERR_BENCH_CHILD', `raw-h2-client ${exited ? 'exited before reporting' : 'timed out'}: ${generator.stderr().slice(-2000)}`);
    }
    await delay(200);
  }
}

function parse(line: string): unknown {
  if (!line.startsWith('{')) return undefined;
  try { return JSON.parse(line) as unknown; } catch { return undefined; }
}

const num = (n: number | null | undefined, digits = 1) => (n === null || n === undefined ? '–' : n.toFixed(digits));
const int = (n: number) => Math.round(n).toLocaleString('en-US');

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  return [header, header.map((_, i) => (i === 0 ? '---' : '---:')), ...rows].map((c) => `| ${c.join(' | ')} |`).join('\n');
}

function memoryTable(samples: readonly MemorySample[]): string {
  return table(['when', 'at s', 'VmRSS MB', 'heap used MB', 'resident MB (metrics)'],
    samples.map((s) => [s.label, num(s.atS, 0), num(s.vmRssMb), num(s.heapUsedMb), num(s.residentMb)]));
}

/** Answers per kind against what each kind must get; returns the table and the kinds that got something else. */
function kindsTable(result: RawLoadResult): { text: string; wrong: string[] } {
  const wrong: string[] = [];
  const rows = Object.entries(result.kinds).map(([name, k]) => {
    const expected = EXPECTED[name];
    const answered = k.allowed + k.denied;
    const right = expected === 'allowed' ? k.allowed : (k.deniedByHttpStatus[String(expected)] ?? 0);
    if (answered > 0 && right !== answered) wrong.push(name);
    if (k.errors > 0) wrong.push(`${name} (errors)`);
    const denials = Object.entries(k.deniedByHttpStatus).map(([s, n]) => `${s}: ${int(n)}`).join(', ') || '–';
    return [name, int(k.sent), int(k.allowed), denials, int(k.errors), String(expected ?? '?'), answered > 0 && right === answered ? 'yes' : 'NO'];
  });
  return { text: table(['kind', 'sent', 'allowed', 'denied (HTTP status: n)', 'errors', 'expected', 'as expected'], rows), wrong };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const flags = parseFlags('soak', argv, FLAGS);
  // An empty --server-node-flags '' runs the server with none (V8 sizes the heap from the machine's RAM).
  serverNodeFlags = flag(flags, 'server-node-flags', shippedNodeFlags().join(' ')).split(' ').filter(Boolean);
  const children = new ChildProcesses();
  if (!children.pinned) log('note: taskset or a second core is missing: server and load share the CPU');
  const machine = {
    date: new Date().toISOString(), nproc: availableParallelism(), cpu: cpus()[0]?.model ?? 'unknown', node: process.version,
    loadavgAtStart: loadavg().map((n) => Number(n.toFixed(2))), command: `node dist/bench/soak.js ${argv.join(' ')}`.trim(), pinned: children.pinned,
    serverNodeFlags: serverNodeFlags.join(' '),
  };
  mkdirSync(RESULTS_DIR, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), 'kestra-authz-soak-'));
  const issuer = await startBenchIssuer(RESULTS_DIR);
  const connections = flag(flags, 'connections', 4);
  const streams = flag(flags, 'streams', 32);
  const tokenCacheSize = flag(flags, 'token-cache-size', DEFAULT_TOKEN_CACHE_SIZE);
  try {
    writeFileSync(join(work, 'users.yaml'), usersYaml(await hashPassword(SOAK_BASIC_PASSWORD)), { mode: 0o600 });
    const configFile = writeBenchConfig({ dir: work, jwksUri: issuer.jwksUri, tokenCacheSize: tokenCacheSize, basicAuth: true });
    const waitIdleS = flag(flags, 'wait-idle', 0);
    const stamp = machine.date.replace(/[:.]/g, '-');

    if (typeof flags['distinct-tokens'] === 'number') {
      await distinctRun(children, configFile, flags['distinct-tokens'], connections, streams, waitIdleS, machine, stamp);
      return;
    }

    const [cachedToken] = await issuer.tokens(1, log);
    const outsider = await distinctTokens(RESULTS_DIR, 'soak-outsider', SOAK_OUTSIDER_GROUP, 1000, log);
    const minutes = flag(flags, 'minutes', 10);
    const warmupS = flag(flags, 'warmup', 10);
    const loadPercent = flag(flags, 'load-percent', 70);

    let capacity: number | undefined = typeof flags.capacity === 'number' ? flags.capacity : undefined;
    let capacityRun: RawLoadResult | undefined;
    let rps = typeof flags.rps === 'number' ? flags.rps : undefined;
    if (rps === undefined && capacity === undefined) {
      log('measuring capacity: closed loop, 10 s, on a fresh server');
      if (waitIdleS > 0) await waitForIdleMachine(waitIdleS, log);
      const { mixFile, allowedSamples } = writeSoakMix({
        dir: work, name: 'capacity', cachedToken: cachedToken!, outsiderToken: outsider.first, shares: DEFAULT_SHARES, wrongShare: 0,
      });
      const { server, ready } = await startServer(children, configFile, 'capacity server');
      try {
        await expectAllowed(ready.grpcPort, allowedSamples);
        capacityRun = (await runGenerator(children, ready, ['--mix', mixFile, '--connections', String(connections), '--streams', String(streams),
          '--warmup', '3', '--duration', '10'], 60)).result;
      } finally {
        await children.stop(server);
      }
      capacity = capacityRun.rps;
      log(`  capacity ≈ ${int(capacity)} Check/s (server CPU ${capacityRun.serverCpuPercent} %, other CPU ${capacityRun.otherCpuPercent} %)`);
    }
    rps ??= Math.round((capacity! * loadPercent) / 100);

    const newShare = DEFAULT_SHARES['new-token']! / 100;
    const needed = Math.ceil(rps * newShare * (warmupS + minutes * 60) * 1.1);
    const newTokens = await distinctTokens(RESULTS_DIR, 'soak-new', BENCH_GROUP, Math.ceil(needed / 50_000) * 50_000, log);
    const wrongPerSecond = flag(flags, 'wrong-per-second', 1);
    const { mixFile, allowedSamples } = writeSoakMix({
      dir: work, name: 'soak', cachedToken: cachedToken!, outsiderToken: outsider.first,
      newTokens: { file: newTokens, first: 0, count: newTokens.count }, shares: DEFAULT_SHARES, wrongShare: (100 * wrongPerSecond) / rps,
    });

    log(`soak: ${minutes} min at ${int(rps)} Check/s (open loop)${capacity ? `, ${loadPercent} % of ${int(capacity)}` : ''}`);
    if (waitIdleS > 0) await waitForIdleMachine(waitIdleS, log);
    const { server, ready } = await startServer(children, configFile, 'soak server');
    let run: GeneratorRun;
    const memory: MemorySample[] = [];
    try {
      await expectAllowed(ready.grpcPort, allowedSamples);
      memory.push(await sampleMemory(ready.pid, ready.managementPort, -warmupS, 'start (before load)'));
      run = await runGenerator(children, ready, ['--mix', mixFile, '--rps', String(rps), '--connections', String(connections),
        '--streams', String(streams), '--warmup', String(warmupS), '--duration', String(minutes * 60), '--report-every', '60'], warmupS + minutes * 60 + 120);
      memory.push(...run.memory);
      memory.push(await sampleMemory(ready.pid, ready.managementPort, minutes * 60, 'end (load stopped)'));
      await delay(10_000);
      memory.push(await sampleMemory(ready.pid, ready.managementPort, minutes * 60 + 10, 'idle 10 s after'));
    } finally {
      await children.stop(server);
    }

    const r = run.result;
    const minutesTable = table(['minute', 'Check/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'denied', 'errors', 'send lag p99 ms', 'VmRSS MB', 'heap used MB'],
      run.intervals.map((i, index) => [String(i.interval), int(i.intervalRps), num(i.latency.p50Ms, 2), num(i.latency.p90Ms, 2), num(i.latency.p99Ms, 2),
        num(i.latency.maxMs, 1), int(i.denied), int(i.errors), num(i.sendLagP99Ms, 2), num(run.memory[index]?.vmRssMb), num(run.memory[index]?.heapUsedMb)]));
    const kinds = kindsTable(r);
    const notes: string[] = [];
    if ((r.otherCpuPercent ?? 0) > 10) notes.push(`other processes used ${r.otherCpuPercent} % of a core on average: the machine was shared, latencies are not clean.`);
    if (r.sendLagP99Ms !== null && r.sendLagP99Ms > 1) notes.push(`the generator sent 1 % of requests more than ${r.sendLagP99Ms} ms late.`);
    if (r.tokenWraps > 0) notes.push(`the new-token file was used up ${r.tokenWraps} time(s): later "new" tokens were seen before.`);
    if (r.dropped > 0) notes.push(`${r.dropped} requests dropped: the server fell behind the schedule by more than 2 s.`);
    if (kinds.wrong.length) notes.push(`kinds not answered as expected: ${kinds.wrong.join(', ')}.`);
    const report = [
      `Soak — ${machine.date}`,
      `machine: ${machine.nproc} vCPU, ${machine.cpu}, node ${machine.node}, load average at start ${machine.loadavgAtStart.join(' ')}`,
      `command: ${machine.command} (server node flags: ${machine.serverNodeFlags || 'none'})`,
      `load: open loop at ${int(rps)} Check/s${capacity ? ` (${loadPercent} % of a measured ${int(capacity)})` : ''} by raw-h2-client, `
        + `${connections} × ${streams} streams, warm-up ${warmupS} s, ${minutes} min measured; server CPU ${r.serverCpuPercent} %, `
        + `other CPU ${r.otherCpuPercent} %, token-cache-size ${tokenCacheSize}`,
      '', `whole run: ${int(r.rps)} Check/s, p50 ${r.latency.p50Ms} ms, p99 ${r.latency.p99Ms} ms, p99.9 ${r.latency.p999Ms} ms, max ${r.latency.maxMs} ms, `
        + `errors ${Object.values(r.grpcErrors).reduce((a, b) => a + b, 0) + r.transportErrors + r.unfinished}, send lag p99 ${r.sendLagP99Ms} ms`,
      '', minutesTable, '', memoryTable(memory), '', kinds.text,
      ...notes.map((n) => `\nnote: ${n}`),
    ].join('\n');
    process.stdout.write(`${report}\n`);
    const file = join(RESULTS_DIR, `soak-${stamp}.json`);
    writeFileSync(file, JSON.stringify({ machine, rps, capacity, capacityRun, loadPercent, minutes, warmupS, tokenCacheSize: tokenCacheSize,
      intervals: run.intervals, memory, result: r }, null, 2));
    log(`results: ${file}`);
    if (kinds.wrong.length) process.exitCode = 1;
  } finally {
    await children.stopAll();
    await issuer.stop();
    rmSync(work, { recursive: true, force: true });
  }

  /** --distinct-tokens N: N never-seen valid tokens, as fast as the server verifies them; memory after. */
  async function distinctRun(kids: ChildProcesses, configFile: string, count: number, conns: number, streamsEach: number, waitIdleS: number,
    info: typeof machine, stamp: string): Promise<void> {
    const tokens = await distinctTokens(RESULTS_DIR, 'soak-distinct', BENCH_GROUP, count, log);
    const { mixFile } = writeSoakMix({
      dir: work, name: 'distinct', cachedToken: tokens.first, outsiderToken: tokens.first,
      newTokens: { file: tokens, first: 0, count }, shares: { 'new-token': 1 }, wrongShare: 0,
    });
    if (waitIdleS > 0) await waitForIdleMachine(waitIdleS, log);
    const { server, ready } = await startServer(kids, configFile, 'distinct-tokens server');
    const memory: MemorySample[] = [];
    let run: GeneratorRun;
    try {
      memory.push(await sampleMemory(ready.pid, ready.managementPort, 0, 'start (before load)'));
      log(`pushing ${int(count)} distinct tokens (closed loop, ${conns} × ${streamsEach})`);
      run = await runGenerator(kids, ready, ['--mix', mixFile, '--connections', String(conns), '--streams', String(streamsEach),
        '--warmup', '0', '--duration', '86400', '--max-requests', String(count), '--report-every', '30'], 4 * 3600);
      memory.push(...run.memory);
      memory.push(await sampleMemory(ready.pid, ready.managementPort, run.result.measuredS, 'end (all answered)'));
      await delay(10_000);
      memory.push(await sampleMemory(ready.pid, ready.managementPort, run.result.measuredS + 10, 'idle 10 s after'));
    } finally {
      await kids.stop(server);
    }
    const r = run.result;
    const end = memory.find((m) => m.label.startsWith('end'));
    const peak = Math.max(...memory.map((m) => m.vmRssMb ?? 0));
    const verdict = end?.vmRssMb !== null && end?.vmRssMb !== undefined && end.vmRssMb <= RSS_LIMIT_MB ? 'within' : 'ABOVE';
    const report = [
      `Distinct tokens — ${info.date}`,
      `machine: ${info.nproc} vCPU, ${info.cpu}, node ${info.node}; command: ${info.command} (server node flags: ${info.serverNodeFlags || 'none'})`,
      `${int(r.requests)} requests (${int(r.allowed)} allowed, ${r.tokenWraps} wraps) in ${r.measuredS} s = ${int(r.rps)} Check/s; `
        + `server CPU ${r.serverCpuPercent} %, other CPU ${r.otherCpuPercent} %; token-cache-size ${tokenCacheSize}`,
      '', memoryTable(memory), '',
      `VmRSS after ${int(count)} distinct tokens: ${end?.vmRssMb ?? '–'} MB (peak ${peak} MB) — ${verdict} the ${RSS_LIMIT_MB} MB limit.`,
    ].join('\n');
    process.stdout.write(`${report}\n`);
    const file = join(RESULTS_DIR, `soak-distinct-${stamp}.json`);
    writeFileSync(file, JSON.stringify({ machine: info, count, tokenCacheSize: tokenCacheSize, memory, intervals: run.intervals, result: r }, null, 2));
    log(`results: ${file}`);
    if (verdict !== 'within' || r.allowed !== count) process.exitCode = 1;
  }
}

runMain(main);
