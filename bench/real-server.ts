/**
 * The real service in a process of its own, from a config file, logging
 * nothing (a log line per decision would measure pino, not the decision).
 * Its ready line names all three ports: gRPC door, management, HTTP door.
 * With `--workers N` (N > 1) it is a `serve --workers N` group: this process
 * is the primary (server/group-primary.ts) and prints the ready line once
 * every worker listens; the workers run this program too.
 *
 *   node dist/bench/real-server.js --config FILE [--workers N]
 *   BENCH_GC_REPORT=bench/results/gc node dist/bench/real-server.js …   (allocation rate and GC pauses, see gc-profile.ts)
 */
import cluster from 'node:cluster';
import { loadConfigFile } from '../src/config/load-config.js';
import { createLogger } from '../src/observability/logger.js';
import { GROUP_WORKER_ENV, runGroupPrimary } from '../src/server/group-primary.js';
import { startService } from '../src/server/service.js';
import { connectWorkerLink } from '../src/server/worker-link.js';
import { BenchError, runMain } from './bench-error.js';
import { parseFlags } from './cli-flags.js';
import { announceReady, closeOnSignal } from './server-ready.js';
import { gcReportFromEnv } from './gc-profile.js';

async function main(): Promise<void> {
  const flags = parseFlags('real-server', process.argv.slice(2), { config: { kind: 'string' }, workers: { kind: 'int', min: 1, max: 16 } });
  const path = flags.config;
  if (typeof path !== 'string') throw new BenchError('ERR_BENCH_USAGE', 'real-server: --config FILE is required');
  const workers = typeof flags.workers === 'number' ? flags.workers : 1;

  const config = await loadConfigFile(path, process.env);
  // Silent, and to stderr should anything ever be written: stdout carries the ready line.
  const logger = createLogger('silent', process.stderr);
  const isWorker = cluster.isWorker && process.env[GROUP_WORKER_ENV] === '1';
  if (workers > 1 && !isWorker) {
    const code = await runGroupPrimary({
      workers,
      logger,
      management: config.listen.management,
      config: { initial: config },
      onStarted: (ports) => announceReady('real', ports.grpcPort, ports.managementPort, ports.httpPort),
    });
    process.exit(code);
  }
  const group = isWorker ? connectWorkerLink() : undefined;
  // BENCH_GC_REPORT=PREFIX: allocation rate and GC pauses of this (worker) process, written on shutdown (gc-profile.ts).
  const writeGcReport = gcReportFromEnv();
  const service = await startService(config, { logger, version: 'bench', group });
  closeOnSignal(async () => {
    writeGcReport?.();
    await service.close();
    group?.close();
  });
  if (group) group.reportReady(service.grpcPort, service.httpPort);
  else announceReady('real', service.grpcPort, service.managementPort, service.httpPort);
}

runMain(main);
