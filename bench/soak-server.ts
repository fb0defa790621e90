/**
 * The real service for the soak: like real-server.ts (logging off), but its
 * ready line also names the management port, where the soak reads
 * /metrics (heap, resident memory) while it runs.
 *
 *   node dist/bench/soak-server.js --config FILE
 */
import { loadConfigFile } from '../src/config/load-config.js';
import { createLogger } from '../src/observability/logger.js';
import { startService } from '../src/server/service.js';
import { BenchError, runMain } from './bench-error.js';
import { parseFlags } from './cli-flags.js';
import { closeOnSignal } from './server-ready.js';

async function main(): Promise<void> {
  const flags = parseFlags('soak-server', process.argv.slice(2), { config: { kind: 'string' } });
  const path = flags.config;
  if (typeof path !== 'string') throw new BenchError('ERR_BENCH_USAGE', 'soak-server: --config FILE is required');
  const config = await loadConfigFile(path, process.env);
  const service = await startService(config, { logger: createLogger('silent', process.stderr), version: 'bench' });
  closeOnSignal(() => service.close());
  process.stdout.write(`${JSON.stringify({
    ready: true, kind: 'real', grpcPort: service.grpcPort, httpPort: service.httpPort, managementPort: service.managementPort, pid: process.pid,
  })}\n`);
}

runMain(main);
