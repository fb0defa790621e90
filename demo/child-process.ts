/**
 * A child process of the demo (kestra-authz, Caddy): started with its output
 * kept (the tail, to explain a failure) and optionally echoed, waited for
 * until a readiness probe passes, and stopped by its pid — SIGTERM, then
 * SIGKILL if it lingers. `killSync` is the last resort of a demo process
 * that is exiting without having run its teardown.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';

export interface ChildSpec {
  /** Short name for messages and the output prefix. */
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Resolves true once the child serves. */
  readonly ready: () => Promise<boolean>;
  /** Copy the child's output, prefixed, to this writer as it comes (`--verbose`). */
  readonly echo?: (line: string) => void;
  readonly startTimeoutMs?: number;
}

export interface RunningChild {
  readonly name: string;
  readonly pid: number;
  /** Last lines the child printed. */
  output(): string;
  /** Resolves when the child has exited (for whatever reason). */
  readonly exited: Promise<void>;
  readonly hasExited: boolean;
  /** SIGTERM by pid, SIGKILL after a grace period. Safe to call twice. */
  stop(): Promise<void>;
  /** SIGKILL by pid now, if still running (for a process 'exit' handler, which cannot wait). */
  killSync(): void;
}

export class ChildStartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ChildStartError';
  }
}

const OUTPUT_LIMIT = 32 * 1024;
const STOP_GRACE_MS = 5_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function startChild(spec: ChildSpec): Promise<RunningChild> {
  let output = '';
  let exited = false;
  const child: ChildProcess = spawn(spec.command, [...spec.args], {
    cwd: spec.cwd,
    env: spec.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group: a Ctrl-C in the terminal reaches only the demo,
    // which then stops each child by pid, in order, and knows it did.
    detached: true,
  });
  const exit = new Promise<void>((resolve) => child.once('close', () => { exited = true; resolve(); }));
  child.once('error', (err) => { output += `\n${spec.name}: could not start: ${err.message}`; });
  const collect = (chunk: Buffer) => {
    const text = chunk.toString('utf8');
    output = (output + text).slice(-OUTPUT_LIMIT);
    if (spec.echo) for (const line of text.split('\n')) if (line.trim()) spec.echo(`[${spec.name}] ${line}`);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);

  const stop = async () => {
    if (!exited && child.pid !== undefined) {
      try {
        process.kill(child.pid, 'SIGTERM');
      } catch {
        // Already gone (e.g. Ctrl-C reached the whole process group first).
      }
      const timer = setTimeout(() => {
        if (!exited && child.pid !== undefined) {
          try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ }
        }
      }, STOP_GRACE_MS);
      await exit;
      clearTimeout(timer);
    }
  };

  const deadline = Date.now() + (spec.startTimeoutMs ?? 30_000);
  for (;;) {
    if (exited || child.pid === undefined) {
      await exit;
      throw new ChildStartError(`${spec.name} exited while starting:\n${output.trim()}`);
    }
    if (await spec.ready().catch(() => false)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new ChildStartError(`${spec.name} was not ready within ${spec.startTimeoutMs ?? 30_000} ms:\n${output.trim()}`);
    }
    await sleep(100);
  }

  return {
    name: spec.name,
    pid: child.pid,
    output: () => output,
    exited: exit,
    get hasExited() { return exited; },
    stop,
    killSync: () => {
      if (!exited && child.pid !== undefined) {
        try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ }
      }
    },
  };
}

/** A probe: true once `url` answers 200. */
export function answers200(url: string): () => Promise<boolean> {
  return async () => {
    const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    await res.body?.cancel();
    return res.status === 200;
  };
}

/** A probe: true once something accepts TCP connections on 127.0.0.1:`port`. */
export function listens(port: number): () => Promise<boolean> {
  return () => new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}
