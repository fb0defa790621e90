/**
 * A `kestra-authz serve` child process in a test: ready when its management
 * port says so, stopped the way an orchestrator stops it (SIGTERM).
 */
import type { ChildProcess } from 'node:child_process';
import { pollUntil } from './poll.js';

/** Polls a service's management `/readyz` until it answers 200, within `timeoutMs`: true when it became ready. */
export function becomesReady(managementPort: number, timeoutMs = 20_000): Promise<boolean> {
  const probe = () => fetch(`http://127.0.0.1:${managementPort}/readyz`).then((r) => r.ok, () => false);
  return pollUntil(probe, (ok) => ok, { timeoutMs, intervalMs: 200 });
}

/** Sends SIGTERM and resolves with the exit code (a graceful shutdown exits 0). */
export function exitCodeAfterSigterm(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  return exited;
}
