/**
 * Memory per verified token, in one process, without the transport: N
 * distinct valid tokens (from the soak's token file) decided one after the
 * other through the real engine and the gRPC door's codec, then heap and RSS
 * after a full GC. Shows what the token cache and the allow memo hold per
 * entry, apart from grpc-js and HTTP/2 buffers.
 *
 *   npm run build && node --expose-gc dist/bench/memory-probe.js --tokens 200000 [--token-cache-size 10000]
 */
import { closeSync, mkdtempSync, openSync, readFileSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfigFile } from '../src/config/load-config.js';
import { createLogger } from '../src/observability/logger.js';
import { registry } from '../src/observability/metrics.js';
import { buildEngine, createEngineServices } from '../src/server/build-engine.js';
import { authRequestFromCheckBytes } from '../src/server/check-request-wire.js';
import { encodeCheckResponse } from '../src/server/check-response-wire.js';
import { decideAtDoor, type Runtime } from '../src/server/runtime.js';
import { checkCodec } from './grpc-frames.js';
import { writeBenchConfig } from './bench-config.js';
import { startBenchIssuer } from './bench-issuer.js';
import { BenchError, runMain } from './bench-error.js';
import { flag, parseFlags } from './cli-flags.js';
import { envoyLikeCheckRequest } from './envoy-like-check.js';

const MiB = 1024 * 1024;

async function counterValue(name: string): Promise<number> {
  const metric = registry.getSingleMetric(name);
  return metric ? ((await metric.get()).values[0]?.value ?? 0) : 0;
}

function memory(): { rssMiB: number; heapUsedMiB: number; externalMiB: number; arrayBuffersMiB: number } {
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  const r = (n: number) => Math.round((n / MiB) * 10) / 10;
  return { rssMiB: r(m.rss), heapUsedMiB: r(m.heapUsed), externalMiB: r(m.external), arrayBuffersMiB: r(m.arrayBuffers) };
}

async function main(): Promise<void> {
  const flags = parseFlags('memory-probe', process.argv.slice(2), {
    tokens: { kind: 'int', min: 1, max: 1_000_000 },
    'token-cache-size': { kind: 'int', min: 0, max: 1_000_000 },
    file: { kind: 'string' },
  });
  const results = join(process.cwd(), 'bench/results');
  const file = flag(flags, 'file', join(results, 'soak-tokens-soak-distinct-1000000.bin'));
  const meta = JSON.parse(readFileSync(`${file}.json`, 'utf8')) as { count: number; tokenLength: number };
  const count = Math.min(flag(flags, 'tokens', 200_000), meta.count);
  if (!(globalThis as { gc?: unknown }).gc) throw new BenchError('ERR_BENCH_USAGE', 'memory-probe: run node with --expose-gc');

  const dir = mkdtempSync(join(tmpdir(), 'kauthz-memprobe-'));
  const issuer = await startBenchIssuer(results);
  const config = await loadConfigFile(writeBenchConfig({ dir, jwksUri: issuer.jwksUri, tokenCacheSize: flag(flags, 'token-cache-size', 100_000) }));
  const logger = createLogger('silent');
  const services = createEngineServices(config, logger);
  await services.warmUp();
  const runtime: Runtime = { engine: buildEngine(config, services), logger, ready: true };
  const codec = checkCodec();

  const before = memory();
  const fd = openSync(file, 'r');
  const token = Buffer.alloc(meta.tokenLength);
  let allowed = 0;
  const started = Date.now();
  for (let i = 0; i < count; i++) {
    readSync(fd, token, 0, meta.tokenLength, i * meta.tokenLength);
    const frame = codec.serializeRequest(envoyLikeCheckRequest({ token: token.toString('latin1'), sequence: i }));
    const decision = await decideAtDoor(runtime, authRequestFromCheckBytes(frame)!, 'grpc');
    encodeCheckResponse(decision);
    if (decision.allow) allowed++;
  }
  // The first tokens again: still cached (hits), unless the cache is smaller than the run.
  const hitsBefore = await counterValue('kestra_authz_token_cache_hits_total');
  const again = Math.min(100, count);
  for (let i = 0; i < again; i++) {
    readSync(fd, token, 0, meta.tokenLength, i * meta.tokenLength);
    const frame = codec.serializeRequest(envoyLikeCheckRequest({ token: token.toString('latin1'), sequence: i }));
    await decideAtDoor(runtime, authRequestFromCheckBytes(frame)!, 'grpc');
  }
  const rehits = (await counterValue('kestra_authz_token_cache_hits_total')) - hitsBefore;
  closeSync(fd);
  const after = memory();
  console.log(JSON.stringify({
    tokens: count, allowed, firstTokensStillCached: `${rehits}/${again}`, tokenCacheSize: config.tokenCacheSize, seconds: (Date.now() - started) / 1000,
    before, after,
    bytesPerCachedToken: Math.round(((after.heapUsedMiB - before.heapUsedMiB) * MiB) / Math.min(count, config.tokenCacheSize || 1)),
    node: process.version,
  }));
  await services.close();
  await issuer.stop();
  rmSync(dir, { recursive: true, force: true });
}

runMain(main);
