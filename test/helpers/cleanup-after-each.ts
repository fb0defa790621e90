/** Undo work registered during a test, run after it (last registered first), so every server a test starts is closed. */
import { afterEach } from 'node:test';

export type Defer = (undo: () => Promise<void> | void) => void;

/** Call at the top of a describe(); returns `defer`, whose tasks run after each test of it. */
export function cleanupAfterEach(): Defer {
  const tasks: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    while (tasks.length) await tasks.pop()!();
  });
  return (undo) => void tasks.push(undo);
}
