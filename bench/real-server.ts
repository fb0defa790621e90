/**
 * The real service in a process of its own, from a config file, logging
 * nothing (a log line per decision would measure pino, not the decision).
 * Its ready line names all three ports: gRPC door, management, HTTP door.
 *
 *   node dist/bench/real-server.js --config FILE
 */
import { loadConfigFile } from '../src/config/load-config.js';
import { createLogger } from '../src/observability/logger.js';
import { startService } from '../src/server/service.js';
import { BenchError, runMain } from './bench-error.js';
import { parseFlags } from './cli-flags.js';
import { announceReady, closeOnSignal } from './server-ready.js';

async function main(): Promise<void> {
  const flags = parseFlags('real-server', process.argv.slice(2), { config: { kind: 'string' } });
  const path = flags.config;
  if (typeof path !== 'string') throw new BenchError('ERR_BENCH_USAGE', 'real-server: --config FILE is required');

  const config = await loadConfigFile(path, process.env);
  // Silent, and to stderr should anything ever be written: stdout carries the ready line.
  const service = await startService(config, { logger: createLogger('silent', process.stderr), version: 'bench' });
  closeOnSignal(() => service.close());
  announceReady('real', service.grpcPort, service.managementPort, service.httpPort);
}

runMain(main);
