/**
 * The long fuzz run (`npm run fuzz`): the properties of test/fuzz/ for ≥ 1M
 * cases — mostly decide() in process (random/mutated requests and raw
 * protobuf frames), a share as raw frames through the real gRPC door.
 *
 *   node dist/bench/fuzz-long.js [--cases 1000000] [--seed N] [--grpc-share 0.04] [--frame-share 0.25]
 *
 * Cases run in chunks of --chunk; chunk i uses seed N+i, so a failure prints
 * the exact seed and path to replay it in test/fuzz/fuzz.test.ts
 * (FUZZ_SEED=… FUZZ_PATH=…). A failing chunk is recorded and the run goes on.
 * Progress goes to stderr; the last line on stdout is the JSON summary.
 * Exit code 1 when any property failed.
 */
import { cpus, loadavg } from 'node:os';
import fc from 'fast-check';
import { frameArb, requestCaseArb } from '../test/fuzz/arbitraries.js';
import { createFuzzWorld } from '../test/fuzz/fuzz-world.js';
import {
  assertValidCredentialsAllowed, checkFrameInProcess, checkGrpcBatch, checkRequestCase, createHarness, createRawCheckClient, validFrame,
} from '../test/fuzz/properties.js';
import { flag, parseFlags } from './cli-flags.js';

const GRPC_BATCH = 20;

interface Failure {
  readonly property: 'request' | 'frame' | 'grpc';
  readonly seed: number;
  readonly path: string;
  readonly error: string;
  readonly counterexample: string;
}

async function main(): Promise<void> {
  const flags = parseFlags('fuzz-long', process.argv.slice(2), {
    cases: { kind: 'int', min: 1 },
    seed: { kind: 'int' },
    chunk: { kind: 'int', min: 100 },
    'grpc-share': { kind: 'number', min: 0, max: 1 },
    'frame-share': { kind: 'number', min: 0, max: 1 },
  });
  const total = flag(flags, 'cases', 1_000_000);
  const seed = flag(flags, 'seed', Date.now() % 2 ** 31);
  const chunk = flag(flags, 'chunk', 10_000);
  const grpcShare = flag(flags, 'grpc-share', 0.04);
  const frameShare = flag(flags, 'frame-share', 0.25);

  const started = Date.now();
  const world = await createFuzzWorld();
  const h = createHarness(world);
  const failures: Failure[] = [];
  const done = { request: 0, frame: 0, grpc: 0 };
  try {
    await assertValidCredentialsAllowed(h);
    const service = await world.service();
    const client = createRawCheckClient(service.grpcPort);
    const valid = validFrame(h);
    const requests = requestCaseArb(world.credentials);
    const frames = frameArb(world.credentials, (v) => h.method.requestSerialize(v));
    const batches = fc.array(frames, { minLength: GRPC_BATCH, maxLength: GRPC_BATCH });

    const run = async <T>(property: 'request' | 'frame' | 'grpc', prop: fc.IAsyncProperty<T>, numRuns: number, chunkSeed: number) => {
      if (numRuns <= 0) return;
      const result = await fc.check(prop, { numRuns, seed: chunkSeed });
      if (!result.failed) return;
      const example = fc.stringify(result.counterexample);
      failures.push({
        property,
        seed: result.seed,
        path: result.counterexamplePath ?? '',
        error: result.errorInstance instanceof Error ? result.errorInstance.message : String(result.errorInstance),
        counterexample: example.length > 4000 ? `${example.slice(0, 4000)}… (${example.length} chars)` : example,
      });
      process.stderr.write(`FAILURE (${property}, seed ${result.seed}, path ${result.counterexamplePath}): ${failures.at(-1)!.error.split('\n')[0]}\n`);
    };

    for (let index = 0, offset = 0; offset < total; index++, offset += chunk) {
      const size = Math.min(chunk, total - offset);
      const grpcRuns = Math.round((size * grpcShare) / GRPC_BATCH);
      const frameRuns = Math.round(size * frameShare);
      const requestRuns = size - frameRuns - grpcRuns * GRPC_BATCH;
      const chunkSeed = seed + index;
      await run('request', fc.asyncProperty(requests, async (c) => { await checkRequestCase(h, c); }), requestRuns, chunkSeed);
      await run('frame', fc.asyncProperty(frames, (f) => checkFrameInProcess(h, f)), frameRuns, chunkSeed);
      await run('grpc', fc.asyncProperty(batches, (b) => checkGrpcBatch(h, client, b, valid)), grpcRuns, chunkSeed);
      done.request += requestRuns;
      done.frame += frameRuns;
      done.grpc += grpcRuns * GRPC_BATCH;
      const cases = done.request + done.frame + done.grpc;
      const seconds = (Date.now() - started) / 1000;
      process.stderr.write(`${cases}/${total} cases, ${(cases / seconds).toFixed(0)}/s, ${h.stats.allows} allows, ${failures.length} failures, ${seconds.toFixed(0)} s\n`);
    }
    client.close();
  } finally {
    await world.close();
  }

  const cases = done.request + done.frame + done.grpc;
  console.log(JSON.stringify({
    cases,
    seed,
    durationSeconds: Math.round((Date.now() - started) / 100) / 10,
    allows: h.stats.allows,
    failures: failures.length,
    breakdown: { requestsInProcess: done.request, framesInProcess: done.frame, framesOverGrpc: done.grpc },
    observed: {
      doorBadRequests: h.stats.badRequests,
      framesTheDoorsReaderRefused: h.stats.undecodable,
      grpcErrors: h.stats.grpcErrors,
      grpcAllowsWhereProtobufjsReadsTheFrameDifferently: h.stats.allowedDecoderDivergence,
      reasons: h.stats.reasons,
    },
    failureDetails: failures,
    machine: { node: process.version, cpus: cpus().length, cpuModel: cpus()[0]?.model, loadAverageAtEnd: loadavg().map((l) => l.toFixed(2)) },
    date: new Date().toISOString(),
  }));
  if (failures.length) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
