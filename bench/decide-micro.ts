/**
 * In-process cost of one cached-token Check without the transport:
 * CheckRequest bytes → AuthRequest → decide() → CheckResponse bytes, with the
 * gRPC door's own codec (check-request-wire, check-response-wire).
 * Prints µs per Check for each step so a change can be judged without the
 * noise of a gRPC load run. Run with `--cpu-prof` to profile the hot path:
 *
 *   npm run build && node --cpu-prof --cpu-prof-dir=bench/results dist/bench/decide-micro.js
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import { loadConfigFile } from '../src/config/load-config.js';
import { createLogger } from '../src/observability/logger.js';
import { buildEngine, createEngineServices } from '../src/server/build-engine.js';
import { authRequestFromCheckBytes } from '../src/server/check-request-wire.js';
import { encodeCheckResponse } from '../src/server/check-response-wire.js';
import { AUTHORIZATION_SERVICE, loadExtAuthzDefinition } from '../src/server/envoy-protos.js';
import { decideAtDoor, type Runtime } from '../src/server/runtime.js';
import { writeBenchConfig } from './bench-config.js';
import { startBenchIssuer } from './bench-issuer.js';
import { envoyLikeCheckRequest } from './envoy-like-check.js';

const ITERATIONS = Number(process.env.ITERATIONS ?? 200_000);

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'kauthz-micro-'));
  const issuer = await startBenchIssuer(join(process.cwd(), 'bench/results'));
  const [token] = await issuer.tokens(1, () => {});
  const config = await loadConfigFile(writeBenchConfig({ dir, jwksUri: issuer.jwksUri, tokenCacheSize: 1000 }));
  const logger = createLogger('silent');
  const services = createEngineServices(config, logger);
  await services.warmUp();
  const runtime: Runtime = { engine: buildEngine(config, services), logger, ready: true };
  const method = (loadExtAuthzDefinition()[AUTHORIZATION_SERVICE] as grpc.ServiceDefinition).Check!;
  const frame = method.requestSerialize(envoyLikeCheckRequest({ token: token!, sequence: 1 }));

  // warm-up: JWKS fetch, first verify, JIT
  for (let i = 0; i < 5_000; i++) {
    const d = await decideAtDoor(runtime, authRequestFromCheckBytes(frame)!, 'grpc');
    if (i === 0 && !d.allow) throw new Error(`bench request not allowed: ${d.reason}`);
  }

  const timings = { decode: 0n, decide: 0n, render: 0n };
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
  }
  const us = (ns: bigint) => (Number(ns) / ITERATIONS / 1000).toFixed(2);
  const total = timings.decode + timings.decide + timings.render;
  console.log(JSON.stringify({
    iterations: ITERATIONS,
    usPerCheck: { decode: us(timings.decode), decide: us(timings.decide), renderAndEncode: us(timings.render), total: us(total) },
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
