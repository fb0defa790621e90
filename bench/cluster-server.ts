/**
 * One of the bench servers, N times, behind one port: node:cluster forks N
 * workers that each run the given server program, and the primary hands
 * incoming connections to them in turn (Linux default: round-robin by the
 * primary). It answers the question the issue asks of a "cluster of
 * workers": what several event loops buy over one, on the same cores.
 *
 *   node dist/bench/cluster-server.js --workers N <server.js> [its args…]
 *
 * Announces one ready line like the single servers (the shared gRPC port,
 * the primary's pid); the bench counts the primary's and the workers' CPU
 * together (proc-cpu.ts follows child processes). SIGTERM/SIGINT stop every
 * worker, then the primary.
 */
import cluster, { type Worker } from 'node:cluster';
import { createInterface } from 'node:readline';
import { BenchError, runMain } from './bench-error.js';
import { announceReady, type ReadyLine } from './server-ready.js';

const MAX_WORKERS = 16;
const READY_TIMEOUT_MS = 30_000;

function parseArgs(argv: readonly string[]): { workers: number; program: string; args: string[] } {
  if (argv[0] !== '--workers' || argv.length < 3) {
    throw new BenchError('ERR_BENCH_USAGE', 'cluster-server: usage: --workers N <server.js> [args…]');
  }
  const workers = Number(argv[1]);
  if (!Number.isInteger(workers) || workers < 1 || workers > MAX_WORKERS) {
    throw new BenchError('ERR_BENCH_USAGE', `cluster-server: --workers must be an integer in 1..${MAX_WORKERS}, got "${argv[1]}"`);
  }
  return { workers, program: argv[2]!, args: argv.slice(3) };
}

/** The worker's ready line, read from its piped stdout. */
function readyLineOf(worker: Worker): Promise<ReadyLine> {
  return new Promise((resolve, reject) => {
    const stdout = worker.process.stdout;
    if (!stdout) {
      reject(new BenchError('ERR_BENCH_CHILD', 'cluster-server: worker has no stdout'));
      return;
    }
    const lines = createInterface({ input: stdout });
    lines.on('line', (line) => {
      try {
        const parsed = JSON.parse(line) as ReadyLine;
        if (parsed.ready === true && typeof parsed.grpcPort === 'number') {
          lines.close();
          resolve(parsed);
        }
      } catch {
        // not the ready line
      }
    });
    worker.once('exit', (code) => reject(new BenchError('ERR_BENCH_CHILD', `cluster-server: a worker exited (${code}) before it was ready`)));
  });
}

async function main(): Promise<void> {
  const { workers, program, args } = parseArgs(process.argv.slice(2));
  // Workers' stderr stays ours (errors show); stdout is piped to read their ready lines.
  cluster.setupPrimary({ exec: program, args, silent: true });
  const forked = Array.from({ length: workers }, () => cluster.fork());
  for (const worker of forked) worker.process.stderr?.pipe(process.stderr);
  const timeout = setTimeout(() => {
    process.stderr.write('cluster-server: workers not ready in time\n');
    process.exit(1);
  }, READY_TIMEOUT_MS);
  const ready = await Promise.all(forked.map(readyLineOf));
  clearTimeout(timeout);
  const ports = new Set(ready.map((line) => line.grpcPort));
  if (ports.size !== 1) throw new BenchError('ERR_BENCH_CHILD', `cluster-server: workers listen on different ports (${[...ports].join(', ')})`);

  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    for (const worker of forked) worker.process.kill('SIGTERM');
    setTimeout(() => process.exit(0), 3000).unref();
    cluster.once('exit', () => {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
    });
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  cluster.on('exit', () => {
    if (!stopping) {
      process.stderr.write('cluster-server: a worker died; stopping\n');
      stop();
    }
  });
  announceReady(ready[0]!.kind, ready[0]!.grpcPort, ready[0]!.managementPort);
}

runMain(main);
