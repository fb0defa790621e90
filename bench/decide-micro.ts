/**
 * In-process cost of one cached-token Check without the transport:
 * CheckRequest bytes → AuthRequest → decide() → CheckResponse bytes, with the
 * gRPC door's own codec (check-request-wire, check-response-wire).
 * Prints µs per Check for each step so a change can be judged without the
 * noise of a gRPC load run. Run with `--cpu-prof` to profile the hot path:
 *
 *   npm run build && node --cpu-prof --cpu-prof-dir=bench/results dist/bench/decide-micro.js
 *
 * SHADOW=file|rule adds a shadow policy (README "Shadow rules"): `file` = the
 * bench config itself as `authz.shadow` (every request re-decided, all agree),
 * `rule` = a `shadow: true` rule denying the bench route (every request a
 * disagreement; the logger is silent, so no line is written). The shadow
 * decides after the answer, in the next setImmediate: the loop yields every
 * YIELD_EVERY Checks in every mode, and `deferred` is the time spent there
 * (the shadow batches, plus the bare yield that SHADOW=off measures too).
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import { loadConfigFile } from '../src/config/load-config.js';
import { createLogger } from '../src/observability/logger.js';
import { parse, stringify } from 'yaml';
import { shadowEvaluationsTotal } from '../src/observability/metrics.js';
import { buildServing, createEngineServices } from '../src/server/build-engine.js';
import { authRequestFromCheckBytes } from '../src/server/check-request-wire.js';
import { encodeCheckResponse } from '../src/server/check-response-wire.js';
import { AUTHORIZATION_SERVICE, loadExtAuthzDefinition } from '../src/server/envoy-protos.js';
import { decideAtDoor, type Runtime } from '../src/server/runtime.js';
import { writeBenchConfig } from './bench-config.js';
import { startBenchIssuer } from './bench-issuer.js';
import { envoyLikeCheckRequest } from './envoy-like-check.js';

const ITERATIONS = Number(process.env.ITERATIONS ?? 200_000);
const SHADOW = process.env.SHADOW ?? 'off';
const YIELD_EVERY = Number(process.env.YIELD_EVERY ?? 64);

/** The bench config with the shadow policy SHADOW asks for. */
function withShadow(path: string, dir: string): string {
  if (SHADOW === 'off') return path;
  const tree = parse(readFileSync(path, 'utf8')) as { authz: Record<string, unknown> & { rules?: unknown[] } };
  if (SHADOW === 'file') {
    copyFileSync(path, join(dir, 'shadow.yaml'));
    tree.authz.shadow = 'shadow.yaml';
  } else if (SHADOW === 'rule') {
    tree.authz.rules = [{ id: 'bench-shadow', match: { path: '/api/v1/**' }, allow: 'deny', shadow: true }, ...(tree.authz.rules ?? [])];
  } else {
    throw new Error(`SHADOW=${SHADOW}: off, file or rule`);
  }
  writeFileSync(path, stringify(tree));
  return path;
}

const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'kauthz-micro-'));
  const issuer = await startBenchIssuer(join(process.cwd(), 'bench/results'));
  const [token] = await issuer.tokens(1, () => {});
  const config = await loadConfigFile(withShadow(writeBenchConfig({ dir, jwksUri: issuer.jwksUri, tokenCacheSize: 1000 }), dir));
  const logger = createLogger('silent');
  const services = createEngineServices(config, logger);
  await services.warmUp();
  const serving = buildServing(config, services);
  const runtime: Runtime = { engine: serving.engine, shadow: serving.shadow, logger, ready: true };
  const method = (loadExtAuthzDefinition()[AUTHORIZATION_SERVICE] as grpc.ServiceDefinition).Check!;
  const frame = method.requestSerialize(envoyLikeCheckRequest({ token: token!, sequence: 1 }));

  // warm-up: JWKS fetch, first verify, JIT
  for (let i = 0; i < 5_000; i++) {
    const d = await decideAtDoor(runtime, authRequestFromCheckBytes(frame)!, 'grpc');
    if (i === 0 && !d.allow) throw new Error(`bench request not allowed: ${d.reason}`);
    if (i % YIELD_EVERY === YIELD_EVERY - 1) await yieldToLoop();
  }
  await yieldToLoop();

  const timings = { decode: 0n, decide: 0n, render: 0n, deferred: 0n };
  const started = process.hrtime.bigint();
  for (let i = 0; i < ITERATIONS; i++) {
    const t0 = process.hrtime.bigint();
    const req = authRequestFromCheckBytes(frame)!;
    const t1 = process.hrtime.bigint();
    const decision = await decideAtDoor(runtime, req, 'grpc');
    const t2 = process.hrtime.bigint();
    encodeCheckResponse(decision);
    const t3 = process.hrtime.bigint();
    timings.decode += t1 - t0;
    timings.decide += t2 - t1;
    timings.render += t3 - t2;
    if (i % YIELD_EVERY === YIELD_EVERY - 1) {
      await yieldToLoop();
      timings.deferred += process.hrtime.bigint() - t3;
    }
  }
  const wall = process.hrtime.bigint() - started;
  const us = (ns: bigint) => (Number(ns) / ITERATIONS / 1000).toFixed(2);
  const total = timings.decode + timings.decide + timings.render;
  const outcomes = Object.fromEntries((await shadowEvaluationsTotal.get()).values.map((v) => [v.labels.outcome, v.value]));
  console.log(JSON.stringify({
    iterations: ITERATIONS,
    shadow: SHADOW,
    usPerCheck: {
      decode: us(timings.decode), decide: us(timings.decide), renderAndEncode: us(timings.render), total: us(total),
      deferred: us(timings.deferred), wall: us(wall),
    },
    ...(SHADOW === 'off' ? {} : { shadowOutcomes: outcomes }),
    node: process.version,
  }));
  await services.close();
  await issuer.stop();
  rmSync(dir, { recursive: true, force: true });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
