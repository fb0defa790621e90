/**
 * Every process the bench starts, pinned to a core when the machine allows,
 * tracked by pid and killed by pid — at the end of its scenario, and on any
 * exit of the orchestrator (normal, error or signal) for whatever is left.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { BenchError } from './bench-error.js';

const TASKSET = '/usr/bin/taskset';

export interface Started {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly name: string;
  /** Everything written on stdout so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
}

/** True when the server and the load can each have a core of their own. */
export function canPin(): boolean {
  return existsSync(TASKSET) && availableParallelism() >= 2;
}

export class ChildProcesses {
  readonly #live = new Set<Started>();
  readonly #pin = canPin();

  constructor() {
    // Last net: a crash or Ctrl-C of the orchestrator leaves no server behind.
    process.once('exit', () => this.killAllNow());
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.once(signal, () => {
        this.killAllNow();
        process.exit(130);
      });
    }
  }

  get pinned(): boolean {
    return this.#pin;
  }

  /** Starts `command args` on `core` — a core number or a taskset list such as "0,1" (via taskset when pinning is possible). */
  start(name: string, core: number | string, command: string, args: readonly string[]): Started {
    const [file, argv] = this.#pin ? [TASKSET, ['-c', String(core), command, ...args]] : [command, [...args]];
    // taskset execs the command, so the pid is the command's own.
    const child = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    if (child.pid === undefined) throw new BenchError('ERR_BENCH_CHILD', `${name}: could not start ${command}`);
    let out = '';
    let err = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => { out += chunk; });
    // Keep the tail only: a chatty child must not grow the orchestrator without bound.
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => { err = (err + chunk).slice(-8192); });
    const started: Started = {
      child,
      pid: child.pid,
      name,
      stdout: () => out,
      stderr: () => err,
      exited: new Promise((resolve) => {
        child.once('error', () => resolve(-1));
        child.once('close', (code) => resolve(code)); // after stdout is drained, unlike 'exit'
      }),
    };
    this.#live.add(started);
    void started.exited.then(() => this.#live.delete(started));
    return started;
  }

  /** Waits for the first stdout line that parses as JSON and passes `accept`. */
  async jsonLine<T>(started: Started, accept: (value: unknown) => value is T, timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let exited = false;
    void started.exited.then(() => { exited = true; });
    for (;;) {
      for (const line of started.stdout().split('\n')) {
        const value = parseJson(line);
        if (value !== undefined && accept(value)) return value;
      }
      const why = exited ? 'exited before reporting' : Date.now() > deadline ? `did not report within ${timeoutMs} ms` : undefined;
      if (why) throw new BenchError('ERR_BENCH_CHILD', `${started.name} ${why}: ${started.stderr().trim().slice(-2000) || '(no stderr)'}`);
      await Promise.race([started.exited, delay(50)]);
    }
  }

  /** SIGTERM, then SIGKILL if it is still there after `graceMs`. */
  async stop(started: Started, graceMs = 3000): Promise<void> {
    if (!this.#live.has(started)) return;
    signal(started.pid, 'SIGTERM');
    const gone = await Promise.race([started.exited.then(() => true), delay(graceMs).then(() => false)]);
    if (!gone) {
      signal(started.pid, 'SIGKILL');
      await started.exited;
    }
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.#live].map((s) => this.stop(s)));
  }

  /** Synchronous, for exit handlers: SIGKILL every child still running. */
  killAllNow(): void {
    for (const started of this.#live) signal(started.pid, 'SIGKILL');
    this.#live.clear();
  }
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // Already gone.
  }
}

function parseJson(line: string): unknown {
  const trimmed = line.trim();
  if (!trimmed.startsWith('{')) return undefined;
  try {
    return JSON.parse(trimmed) as unknown;
  } catch {
    return undefined;
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
