/**
 * One scenario, once: start its server on the server core, check with a real
 * grpc-js client that its requests are allowed, load it with raw-h2-client
 * (HTTP/2 by hand on node:net) on the load core, stop the server — always,
 * by pid; then, when asked, the same with h2load against a freshly started
 * server.
 *
 * HTTP door scenarios (`door: 'http'`) do the same through the HTTP door:
 * a node:http client for the preflight, raw-h1-client for the load and
 * `h2load --h1` as the second opinion.
 */
import { join } from 'node:path';
import { ChildProcesses, type Started } from './child-processes.js';
import type { HttpCheck } from './envoy-like-check.js';
import { expectAllowed } from './grpcjs-preflight.js';
import { expectHttpAllowed } from './http-preflight.js';
import { runH2load, type H2loadResult } from './h2load-run.js';
import type { LoadResult } from './load-types.js';
import type { ReadyLine } from './server-ready.js';
import { waitForIdleMachine } from './proc-cpu.js';

export const SERVER_CORE = 0;
export const LOAD_CORE = 1;
/**
 * HTTP door, open loop: the pool of keep-alive connections raw-h1-client may
 * use (one request in flight each). At 5k/s and ~0.1–0.2 ms per answer about
 * one request is in flight on average (Little's law), so a few connections
 * carry the traffic; 16 let ~3 ms of requests (a scavenge, a burst) go out at
 * their scheduled time instead of queueing in the generator behind a busy
 * connection — and a request that does queue still counts from its scheduled
 * time. It is also the order of what an Envoy keeps towards one upstream
 * (a pool per worker thread, a few workers, connections opened on demand),
 * whereas 128 would mostly be idle sockets. Closed loop uses connections × streams (128 by default) to keep
 * the same number of requests in flight as the gRPC scenarios.
 */
export const HTTP_OPEN_LOOP_CONNECTIONS = 16;

/** A scenario loading the gRPC door (Authorization/Check). */
export interface GrpcScenario {
  readonly door?: 'grpc';
  readonly id: 'null' | 'null-raw' | 'h2-null' | 'null-verify' | 'cached' | 'cached-2w' | 'cached-idtoken' | 'unique' | 'forged' | 'forged-replay';
  readonly title: string;
  /**
   * null: grpc-js + proto-loader; null-raw: grpc-js decoding nothing; h2-null: node:http2 without grpc-js;
   * null-verify: null + jose verifying the Bearer token of every request.
   */
  readonly server: 'null' | 'null-raw' | 'h2-null' | 'null-verify' | 'real';
  readonly framesFile: string;
  /** Requests the grpc-js preflight must see allowed (or given `expected`). */
  readonly samples: readonly object[];
  /** The preflight's expected answer; default `allowed` (the forged scenarios: `denied (HTTP 401)`). */
  readonly expected?: string;
  /** A one-frame file for h2load; undefined = no h2load for this scenario. */
  readonly h2loadBody?: string;
  /** Server processes and their cores for this scenario alone (`cached-2w`); default the run's --workers / --server-cores. */
  readonly workers?: number;
  readonly serverCores?: string;
  /** The real server's config for this scenario alone (`cached-idtoken`); default the run's. */
  readonly configFile?: string;
  /** An upstream header every preflight allow must set (`cached-idtoken`: the signed identity token). */
  readonly preflightHeader?: string;
}

/** A scenario loading the HTTP door (Envoy's ext_authz `http_service`), HTTP/1.1. */
export interface HttpScenario {
  readonly door: 'http';
  readonly id: 'http-null' | 'http-cached';
  readonly title: string;
  /** h1-null: node:http answering 200 to everything; real: the service's HTTP door. */
  readonly server: 'h1-null' | 'real';
  /** The raw HTTP/1.1 request(s) raw-h1-client sends (raw-h1-protocol.ts format). */
  readonly requestsFile: string;
  /** The same request for the node:http preflight and h2load --h1. */
  readonly check: HttpCheck;
  /** A response header the preflight's 200 must carry (the identity header of a real allow). */
  readonly preflightHeader?: string;
  /** Run h2load --h1 as a second opinion (closed loop). */
  readonly h2load: boolean;
}

export type Scenario = GrpcScenario | HttpScenario;

export interface LoadSettings {
  /** Directory of the compiled bench programs (dist/bench). */
  readonly programs: string;
  readonly configFile: string;
  /** The bench issuer's JWKS, for the null-verify server. */
  readonly jwksUri: string;
  /** Server processes behind the one port (node:cluster through cluster-server.js when > 1). */
  readonly workers: number;
  /** taskset core list for the server (its workers included). */
  readonly serverCores: string;
  /** Node flags for every server process (`--server-node-flags`), e.g. `--cpu-prof --cpu-prof-dir=DIR`. */
  readonly serverNodeFlags: readonly string[];
  readonly connections: number;
  readonly streams: number;
  readonly warmupS: number;
  readonly durationS: number;
  readonly rps?: number;
  readonly h2load: boolean;
  /** Seconds to wait for an idle machine before each scenario (0 = don't). */
  readonly waitIdleS: number;
}

export interface ScenarioRun {
  readonly load: LoadResult;
  readonly h2load?: H2loadResult;
}

type GrpcReady = ReadyLine & { readonly grpcPort: number };
type HttpReady = ReadyLine & { readonly httpPort: number };
const isReady = (v: unknown): v is GrpcReady => (v as ReadyLine).ready === true && typeof (v as ReadyLine).grpcPort === 'number';
const isHttpReady = (v: unknown): v is HttpReady => (v as ReadyLine).ready === true && typeof (v as ReadyLine).httpPort === 'number';
const isLoadResult = (v: unknown): v is LoadResult => typeof (v as LoadResult).requests === 'number' && typeof (v as LoadResult).rps === 'number';

export async function runScenario(children: ChildProcesses, scenario: Scenario, runSettings: LoadSettings, log: (line: string) => void): Promise<ScenarioRun> {
  if (scenario.door === 'http') return runHttpScenario(children, scenario, runSettings, log);
  const settings: LoadSettings = {
    ...runSettings,
    workers: scenario.workers ?? runSettings.workers,
    serverCores: scenario.serverCores ?? runSettings.serverCores,
  };
  if (settings.waitIdleS > 0) await waitForIdleMachine(settings.waitIdleS, log);
  const serverArgs = {
    null: [join(settings.programs, 'null-server.js')],
    'null-raw': [join(settings.programs, 'null-server.js'), '--codec', 'raw'],
    'h2-null': [join(settings.programs, 'h2-null-server.js')],
    'null-verify': [join(settings.programs, 'null-server.js'), '--codec', 'verify', '--jwks-uri', settings.jwksUri],
    real: [join(settings.programs, 'real-server.js'), '--config', scenario.configFile ?? settings.configFile],
  }[scenario.server];
  const withServer = <T>(use: (ready: GrpcReady, server: Started) => Promise<T>) => withCheckedServer(
    children, scenario.id, settings, serverArgs, isReady, (ready) => expectAllowed(ready.grpcPort, scenario.samples, undefined, scenario.expected, scenario.preflightHeader), use);

  const load = await withServer((ready, server) => runGenerator(children, 'raw-h2-client', [
    '--port', String(ready.grpcPort), '--frames', scenario.framesFile,
    '--connections', String(settings.connections), '--streams', String(settings.streams),
  ], server, settings, log));

  const h2loadBody = scenario.h2loadBody;
  if (!settings.h2load || h2loadBody === undefined) return { load };
  const h2load = await withServer((ready) => runH2load(children, {
    port: ready.grpcPort, bodyFile: h2loadBody, connections: settings.connections, streams: settings.streams,
    warmupS: settings.warmupS, durationS: settings.durationS, core: LOAD_CORE,
  }));
  log(`  h2load:    ${Math.round(h2load.rps)} Check/s`);
  return { load, h2load };
}

/**
 * Starts a server, checks that the scenario's requests are allowed, runs
 * `use`, stops the server — always, by pid. Each generator of a scenario gets
 * a server of its own: right after one load a server still carries that
 * load's garbage (node:http2's old-space header strings), and the next
 * generator would measure its clean-up.
 */
async function withCheckedServer<R extends ReadyLine, T>(children: ChildProcesses, id: string, settings: LoadSettings, serverArgs: readonly string[],
  isReadyLine: (v: unknown) => v is R, preflight: (ready: R) => Promise<void>, use: (ready: R, server: Started) => Promise<T>): Promise<T> {
  const server = startServer(children, id, settings, serverArgs);
  try {
    const ready = await children.jsonLine(server, isReadyLine, 20_000);
    await preflight(ready);
    return await use(ready, server);
  } finally {
    await children.stop(server);
  }
}

/**
 * Runs one of our generators on the load core against `server` with the run's
 * window and rate; logs and returns its result. Both raw generators allocate
 * next to nothing per request, so they run with node's defaults, as the servers do.
 */
async function runGenerator(children: ChildProcesses, name: string, args: readonly string[], server: Started,
  settings: LoadSettings, log: (line: string) => void): Promise<LoadResult> {
  const generator = children.start(name, LOAD_CORE, process.execPath, [
    join(settings.programs, `${name}.js`), ...args,
    '--warmup', String(settings.warmupS), '--duration', String(settings.durationS),
    '--server-pid', String(server.pid),
    ...(settings.rps === undefined ? [] : ['--rps', String(settings.rps)]),
  ]);
  const load = await children.jsonLine(generator, isLoadResult, (settings.warmupS + settings.durationS + 30) * 1000);
  await children.stop(generator);
  log(`  ${name}: ${Math.round(load.rps)} Check/s, p99 ${load.latency.p99Ms} ms, ${load.allowPercent} % allowed, server CPU ${load.serverCpuPercent} %`
    + (load.sendLagP99Ms === null ? '' : `, send lag p99 ${load.sendLagP99Ms} ms`));
  return load;
}

/**
 * The scenario's server on the server cores: the program itself, or N of it —
 * the real service as a `serve --workers N` group (real-server.js --workers),
 * the null servers behind cluster-server.js.
 */
function startServer(children: ChildProcesses, id: string, settings: LoadSettings, programArgs: readonly string[]): Started {
  const real = programArgs[0]?.endsWith('real-server.js') === true;
  const args = settings.workers <= 1
    ? programArgs
    : real
      ? [...programArgs, '--workers', String(settings.workers)]
      : [join(settings.programs, 'cluster-server.js'), '--workers', String(settings.workers), ...programArgs];
  return children.start(`${id} server`, settings.serverCores, process.execPath, [...settings.serverNodeFlags, ...args]);
}

/** In flight for an HTTP door run: closed loop as the gRPC scenarios (connections × streams), open loop a small pool. */
export function httpConnections(settings: Pick<LoadSettings, 'connections' | 'streams' | 'rps'>): number {
  return settings.rps === undefined ? settings.connections * settings.streams : HTTP_OPEN_LOOP_CONNECTIONS;
}

async function runHttpScenario(children: ChildProcesses, scenario: HttpScenario, settings: LoadSettings, log: (line: string) => void): Promise<ScenarioRun> {
  if (settings.waitIdleS > 0) await waitForIdleMachine(settings.waitIdleS, log);
  const serverArgs = scenario.server === 'h1-null'
    ? [join(settings.programs, 'h1-null-server.js')]
    : [join(settings.programs, 'real-server.js'), '--config', settings.configFile];
  const withServer = <T>(use: (ready: HttpReady, server: Started) => Promise<T>) => withCheckedServer(
    children, scenario.id, settings, serverArgs, isHttpReady, (ready) => expectHttpAllowed(ready.httpPort, scenario.check, scenario.preflightHeader), use);

  const connections = httpConnections(settings);
  const load = await withServer((ready, server) => runGenerator(children, 'raw-h1-client', [
    '--port', String(ready.httpPort), '--requests', scenario.requestsFile, '--connections', String(connections),
  ], server, settings, log));

  if (!settings.h2load || !scenario.h2load) return { load };
  const h2load = await withServer((ready) => runH2load(children, {
    port: ready.httpPort, http1: { path: scenario.check.path, headers: scenario.check.headers },
    connections, streams: 1, warmupS: settings.warmupS, durationS: settings.durationS, core: LOAD_CORE,
  }));
  log(`  h2load --h1: ${Math.round(h2load.rps)} Check/s, status codes ${JSON.stringify(h2load.statusCodes)}`);
  return { load, h2load };
}
