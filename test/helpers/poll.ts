/**
 * Polling with a deadline instead of sleeping a guessed time: the value of
 * `probe` once `done` holds, or the last value at the deadline (the caller's
 * assertion then says what was expected). Never asserts on time itself.
 */
import { setTimeout as sleep } from 'node:timers/promises';

export async function pollUntil<T>(
  probe: () => Promise<T>,
  done: (value: T) => boolean,
  { timeoutMs = 30_000, intervalMs = 200 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await probe();
  while (!done(value) && Date.now() < deadline) {
    await sleep(intervalMs);
    value = await probe();
  }
  return value;
}

