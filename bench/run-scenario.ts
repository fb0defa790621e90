/**
 * One scenario, once: start its server on the server core, check with a real
 * grpc-js client that its requests are allowed, load it with the chosen
 * generator — raw-h2-client (HTTP/2 by hand on node:net) or grpc-load
 * (node:http2) — (and h2load when asked) on the load core, stop the server —
 * always, by pid.
 */
import { join } from 'node:path';
import { ChildProcesses } from './child-processes.js';
import { expectAllowed } from './grpcjs-preflight.js';
import { runH2load, type H2loadResult } from './h2load-run.js';
import type { LoadResult } from './load-types.js';
import type { ReadyLine } from './server-ready.js';
import { waitForIdleMachine } from './proc-cpu.js';

export const SERVER_CORE = 0;
export const LOAD_CORE = 1;
/**
 * Closed loop: grpc-load allocates per request and a larger young
 * generation cuts its GC time by half (measured: ~13k → ~18k Check/s against
 * the null server). Open loop: node's default keeps its GC pauses — which
 * show up as send lag — shorter. raw-h2-client allocates next to nothing per
 * request and runs with node's defaults. The servers always keep node's defaults.
 */
const CLOSED_LOOP_NODE_FLAGS = ['--max-semi-space-size=64'];

export interface Scenario {
  readonly id: 'null' | 'null-raw' | 'h2-null' | 'cached' | 'unique';
  readonly title: string;
  /** null: grpc-js + proto-loader; null-raw: grpc-js decoding nothing; h2-null: node:http2 without grpc-js. */
  readonly server: 'null' | 'null-raw' | 'h2-null' | 'real';
  readonly framesFile: string;
  /** Requests the grpc-js preflight must see allowed. */
  readonly samples: readonly object[];
  /** A one-frame file for h2load; undefined = no h2load for this scenario. */
  readonly h2loadBody?: string;
}

export interface LoadSettings {
  /** Directory of the compiled bench programs (dist/bench). */
  readonly programs: string;
  readonly configFile: string;
  readonly connections: number;
  readonly streams: number;
  readonly warmupS: number;
  readonly durationS: number;
  readonly rps?: number;
  /** `raw`: raw-h2-client.js (node:net, hand-made HTTP/2); `http2`: grpc-load.js (node:http2). */
  readonly generator: 'raw' | 'http2';
  readonly h2load: boolean;
  /** Seconds to wait for an idle machine before each scenario (0 = don't). */
  readonly waitIdleS: number;
}

export interface ScenarioRun {
  readonly load: LoadResult;
  readonly h2load?: H2loadResult;
}

const isReady = (v: unknown): v is ReadyLine => (v as ReadyLine).ready === true && typeof (v as ReadyLine).grpcPort === 'number';
const isLoadResult = (v: unknown): v is LoadResult => typeof (v as LoadResult).requests === 'number' && typeof (v as LoadResult).rps === 'number';

export async function runScenario(children: ChildProcesses, scenario: Scenario, settings: LoadSettings, log: (line: string) => void): Promise<ScenarioRun> {
  if (settings.waitIdleS > 0) await waitForIdleMachine(settings.waitIdleS, log);
  const serverArgs = {
    null: [join(settings.programs, 'null-server.js')],
    'null-raw': [join(settings.programs, 'null-server.js'), '--codec', 'raw'],
    'h2-null': [join(settings.programs, 'h2-null-server.js')],
    real: [join(settings.programs, 'real-server.js'), '--config', settings.configFile],
  }[scenario.server];
  const server = children.start(`${scenario.id} server`, SERVER_CORE, process.execPath, serverArgs);
  try {
    const ready = await children.jsonLine(server, isReady, 20_000);
    await expectAllowed(ready.grpcPort, scenario.samples);

    const [generatorName, generatorFlags] = settings.generator === 'raw'
      ? ['raw-h2-client', []]
      : ['grpc-load', settings.rps === undefined ? CLOSED_LOOP_NODE_FLAGS : []];
    const generator = children.start(generatorName, LOAD_CORE, process.execPath, [
      ...generatorFlags, join(settings.programs, `${generatorName}.js`),
      '--port', String(ready.grpcPort), '--frames', scenario.framesFile,
      '--connections', String(settings.connections), '--streams', String(settings.streams),
      '--warmup', String(settings.warmupS), '--duration', String(settings.durationS),
      '--server-pid', String(server.pid),
      ...(settings.rps === undefined ? [] : ['--rps', String(settings.rps)]),
    ]);
    const load = await children.jsonLine(generator, isLoadResult, (settings.warmupS + settings.durationS + 30) * 1000);
    await children.stop(generator);
    log(`  ${generatorName}: ${Math.round(load.rps)} Check/s, p99 ${load.latency.p99Ms} ms, ${load.allowPercent} % allowed, server CPU ${load.serverCpuPercent} %`
      + (load.sendLagP99Ms === null ? '' : `, send lag p99 ${load.sendLagP99Ms} ms`));

    if (!settings.h2load || scenario.h2loadBody === undefined) return { load };
    const h2load = await runH2load(children, {
      port: ready.grpcPort, bodyFile: scenario.h2loadBody, connections: settings.connections, streams: settings.streams,
      warmupS: settings.warmupS, durationS: settings.durationS, core: LOAD_CORE,
    });
    log(`  h2load:    ${Math.round(h2load.rps)} Check/s`);
    return { load, h2load };
  } finally {
    await children.stop(server);
  }
}
