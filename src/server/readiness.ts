/**
 * Readiness = started (config loaded, doors listening) and every dependency
 * healthy. Polled every second: a store that goes down flips gRPC health to
 * NOT_SERVING and /readyz to 503 (naming the dependency), and back when it
 * recovers. A failed config reload does not make the service unready: the
 * last good config keeps serving.
 */
import type { Logger } from 'pino';
import type { DependencyHealth } from './dependency-health.js';
import type { Runtime } from './runtime.js';

export interface ReadinessLoopOptions {
  readonly runtime: Runtime;
  readonly health?: DependencyHealth;
  /** Drives gRPC health (grpc.health.v1) next to runtime.ready (/readyz). */
  readonly setServing: (serving: boolean) => void;
  readonly logger: Logger;
  /** Default 1000 ms. */
  readonly intervalMs?: number;
  /** Called on every change (a `serve --workers N` worker reports it to the primary). */
  readonly onChange?: (ready: boolean, failing: readonly string[]) => void;
}

export interface ReadinessLoop {
  /** Dependencies failing at the last poll (names only). */
  failing(): readonly string[];
  /** Polls now and applies the result. */
  check(): Promise<boolean>;
  /** Not ready from now on (shutdown); stops polling. */
  stop(): void;
}

export async function startReadinessLoop(options: ReadinessLoopOptions): Promise<ReadinessLoop> {
  const { runtime, health, setServing, logger } = options;
  let stopped = false;
  let failing: readonly string[] = [];

  const apply = (ready: boolean): void => {
    if (ready === runtime.ready) return;
    runtime.ready = ready;
    setServing(ready);
    options.onChange?.(ready, failing);
    if (ready) logger.info('ready: every dependency answers');
    else if (!stopped) logger.warn({ failing }, 'not ready: a dependency is failing');
  };

  const check = async (): Promise<boolean> => {
    if (health) failing = await health.poll();
    if (!stopped) apply(failing.length === 0);
    return runtime.ready;
  };

  if (!(await check())) logger.warn({ failing }, 'not ready at start: a dependency is failing');
  const timer = setInterval(() => { void check(); }, options.intervalMs ?? 1000);
  timer.unref();

  return {
    failing: () => failing,
    check,
    stop() {
      stopped = true;
      clearInterval(timer);
      apply(false);
    },
  };
}
