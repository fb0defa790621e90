/**
 * Named health probes of the service's dependencies (users store, sessions
 * store…), polled for readiness: /readyz and gRPC health say NOT_SERVING
 * while one fails, and SERVING again once it answers. A probe is the store's
 * own `healthy()` when it has one (network stores track their connection);
 * otherwise a cheap read through the store's normal path.
 *
 * Only names are ever reported (never a URL, which can carry a password).
 */
import type { UsersStore } from '../stores/users-store.js';

/** True = healthy. Throwing, rejecting or not answering in time counts as failing. */
export type HealthProbe = () => boolean | Promise<boolean>;

/** A probe slower than this is a failing dependency: readiness must not hang on it. */
export const DEFAULT_PROBE_TIMEOUT_MS = 2000;

export class DependencyHealth {
  readonly #probes = new Map<string, HealthProbe>();
  #failing: readonly string[] = [];
  #polling: Promise<readonly string[]> | undefined;

  /** Registers (or replaces) the probe of one dependency. `name` is a fixed word such as `users`. */
  add(name: string, probe: HealthProbe): void {
    if (typeof name !== 'string' || !/^[a-z][a-z0-9_-]*$/.test(name)) {
      throw new TypeError('dependency name must be a lower-case word');
    }
    if (typeof probe !== 'function') throw new TypeError(`probe of dependency "${name}" must be a function`);
    this.#probes.set(name, probe);
  }

  get names(): readonly string[] {
    return [...this.#probes.keys()];
  }

  /** True when every dependency answered healthy at the last poll. */
  healthy(): boolean {
    return this.#failing.length === 0;
  }

  /** Names of the dependencies that failed the last poll, in registration order. */
  failing(): readonly string[] {
    return this.#failing;
  }

  /** Runs every probe once (concurrent callers share one round); never throws. */
  poll(timeoutMs: number = DEFAULT_PROBE_TIMEOUT_MS): Promise<readonly string[]> {
    this.#polling ??= this.#pollOnce(timeoutMs).finally(() => { this.#polling = undefined; });
    return this.#polling;
  }

  async #pollOnce(timeoutMs: number): Promise<readonly string[]> {
    const entries = [...this.#probes];
    const results = await Promise.all(entries.map(([, probe]) => runProbe(probe, timeoutMs)));
    this.#failing = Object.freeze(entries.filter((_, i) => !results[i]).map(([name]) => name));
    return this.#failing;
  }
}

async function runProbe(probe: HealthProbe, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return (await Promise.race([Promise.resolve().then(probe), timedOut])) === true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The probe of a users store: its own `healthy()` when it has one (a network
 * store knows its connection state without a query); otherwise one `list()`,
 * which for the file store is a stat at most once per second and fails while
 * the file cannot be read or parsed — exactly when Basic auth answers 503.
 */
export function usersStoreProbe(store: UsersStore): HealthProbe {
  const own = (store as { healthy?: unknown }).healthy;
  if (typeof own === 'function') return () => (own as () => boolean | Promise<boolean>).call(store);
  return async () => {
    await store.list();
    return true;
  };
}
