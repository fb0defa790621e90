/**
 * The primary of `serve --workers N` (node:cluster): forks N workers that
 * each run the whole service (both doors; the kernel-level listening sockets
 * are the primary's, handed round-robin to the workers), and
 * - serves the management port for the whole group: /metrics aggregates every
 *   worker's registry (prom-client's AggregatorRegistry.aggregate, with each
 *   metric's `aggregator`) plus the group's own metrics; /readyz is the
 *   group's readiness (below); /healthz says the primary is alive;
 *   /.well-known/jwks.json the identity token's keys, from the same config
 *   and key file as the workers' (group-identity-keys.ts);
 * - forwards SIGHUP to every worker (each reloads its config file, as one
 *   process does; the primary reloads its identity-token keys) and
 *   SIGTERM/SIGINT (each drains and exits; the primary exits once they all
 *   have: 0 when they all exited cleanly);
 * - restarts a worker that exits on its own, after a backoff that grows with
 *   crashes in the last minute; counted in kestra_authz_worker_restarts_total;
 * - holds what must be one for the group: the in-memory lockout counters
 *   (group-lockout.ts) and the cookie store's logout lists, relayed to every
 *   worker and replayed to a restarted one (group-sessions.ts).
 *
 * Readiness: ready when at least one worker is ready and no worker reports a
 * failing dependency (the stores are shared, so one worker's view is every
 * worker's); a worker that is starting (a restart) does not count either way.
 */
import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import client from 'prom-client';
import { LockoutTracker } from '../authn/lockout.js';
import { groupRegistry, workerRestartsTotal, workersAlive, workersReady } from '../observability/worker-metrics.js';
import type { Config } from '../config/types.js';
import { startGroupIdentityKeys } from './group-identity-keys.js';
import { GROUP_MESSAGE, isGroupMessage, type GroupEvent, type GroupRequest, type PrimaryMessage, type WorkerMessage } from './group-messages.js';
import { startManagement, type ManagementServer } from './management.js';

/** Set in a worker's environment: `serve` then runs as one worker of the group. */
export const GROUP_WORKER_ENV = 'KESTRA_AUTHZ_GROUP_WORKER';

export interface GroupOptions {
  readonly workers: number;
  readonly logger: Logger;
  readonly management: { readonly host: string; readonly port: number };
  /**
   * The config the primary loaded, and its file: the management port
   * publishes the identity token's JWKS from it, re-read on SIGHUP and when
   * the file changes. Without it the management port answers 404 there.
   */
  readonly config?: { readonly initial: Config; readonly path?: string };
  /** Called once every worker listens (the doors' ports as the workers report them; port 0 in the config = chosen once for all). */
  readonly onStarted?: (ports: { readonly grpcPort: number; readonly httpPort: number; readonly managementPort: number }) => void;
}

interface WorkerState {
  readonly worker: Worker;
  /** Listens for group events (sent `hello`); metric collections and broadcasts include it from then on. */
  listening: boolean;
  /** Reported its doors listening. */
  started: boolean;
  /** Reported readiness at least once. */
  reported: boolean;
  ready: boolean;
  failing: readonly string[];
  /** The doors' ports, once started. */
  ports?: { readonly grpcPort: number; readonly httpPort: number };
}

interface LoggedEvent {
  readonly event: GroupEvent;
  readonly untilSeconds: number;
}

/** Applied events kept for workers started later; the oldest goes first beyond this (as the workers' own lists do). */
const MAX_LOGGED_EVENTS = 200_000;
/** Below the workers' own request timeout (worker-link.ts), so they hear our answer, not their timer. */
const BROADCAST_TIMEOUT_MS = 1_500;
const METRICS_TIMEOUT_MS = 3_000;
const STARTUP_TIMEOUT_MS = 60_000;
/** After SIGTERM, workers still running after this are killed. */
const DRAIN_TIMEOUT_MS = 10_000;
const BACKOFF_FIRST_MS = 100;
const BACKOFF_MAX_MS = 10_000;
const CRASH_MEMORY_MS = 60_000;

/** Runs the group until SIGTERM/SIGINT; resolves with the exit code. */
export async function runGroupPrimary(options: GroupOptions): Promise<number> {
  const { logger } = options;
  // Before any worker: a key file that cannot be used stops `serve` here, as it would stop each worker.
  const identityKeys = options.config === undefined
    ? undefined
    : startGroupIdentityKeys({ config: options.config.initial, ...(options.config.path === undefined ? {} : { path: options.config.path }), logger });
  const states = new Map<number, WorkerState>();
  const trackers = new Map<string, LockoutTracker>();
  const eventLog: LoggedEvent[] = [];
  const pendingBroadcasts = new Map<number, { readonly waiting: Set<number>; readonly done: (error?: string) => void }>();
  const pendingMetrics = new Map<number, { readonly waiting: Set<number>; readonly results: unknown[]; readonly done: (error?: string) => void }>();
  let nextSeq = 1;
  let stopping = false;
  const crashes: number[] = [];

  const countReady = (): void => {
    workersReady.set([...states.values()].filter((s) => s.ready).length);
  };
  const send = (state: WorkerState, message: PrimaryMessage): void => {
    if (state.worker.isConnected()) state.worker.send(message);
  };
  const fork = (): void => {
    const worker = cluster.fork({ [GROUP_WORKER_ENV]: '1' });
    states.set(worker.id, { worker, listening: false, started: false, reported: false, ready: false, failing: [] });
    workersAlive.set(states.size);
  };

  const lockoutAnswer = (request: Extract<GroupRequest, { op: 'lockout' }>): unknown => {
    let tracker = trackers.get(request.tracker);
    if (!tracker) {
      // Counts no metric: the worker whose failure started a lock counts it (group-lockout.ts).
      tracker = new LockoutTracker({ ...request.settings, counting: 'none' });
      trackers.set(request.tracker, tracker);
    }
    const key = request.key;
    switch (request.method) {
      case 'isLocked': return tracker.isLocked(key);
      case 'recordFailure': return tracker.recordFailure(key);
      case 'recordSuccess': tracker.recordSuccess(key); return null;
      case 'reserve': return tracker.reserve(key);
      case 'confirmFailure': return tracker.confirmFailure(key);
      case 'release': tracker.release(key); return null;
      default: throw new Error('unknown lockout method');
    }
  };

  const liveEvents = (): GroupEvent[] => {
    const nowS = Math.floor(Date.now() / 1000);
    let expired = 0;
    while (expired < eventLog.length && eventLog[expired]!.untilSeconds <= nowS) expired++;
    // Mostly in expiry order (one cookie lifetime each); a later, shorter entry only stays a little longer.
    if (expired) eventLog.splice(0, expired);
    return eventLog.map((logged) => logged.event);
  };

  const relay = (from: WorkerState, event: GroupEvent, reply: (error?: string) => void): void => {
    liveEvents();
    eventLog.push({ event, untilSeconds: event.untilSeconds });
    if (eventLog.length > MAX_LOGGED_EVENTS) eventLog.shift();
    const seq = nextSeq++;
    const targets = [...states.values()].filter((s) => s !== from && s.listening && s.worker.isConnected());
    if (targets.length === 0) {
      reply();
      return;
    }
    const timer = setTimeout(() => {
      pendingBroadcasts.delete(seq);
      reply('a worker did not apply the event in time');
    }, BROADCAST_TIMEOUT_MS);
    pendingBroadcasts.set(seq, {
      waiting: new Set(targets.map((s) => s.worker.id)),
      done: (error) => {
        clearTimeout(timer);
        pendingBroadcasts.delete(seq);
        reply(error);
      },
    });
    for (const target of targets) send(target, { kind: 'kestra-authz:event', seq, event });
  };

  const onRequest = (state: WorkerState, id: number, request: GroupRequest): void => {
    const reply = (value: unknown, error?: string) => send(state, { kind: 'kestra-authz:reply', id, ...(error === undefined ? { value } : { error }) });
    try {
      if (request.op === 'hello') {
        state.listening = true;
        reply(liveEvents());
      } else if (request.op === 'lockout') {
        reply(lockoutAnswer(request));
      } else if (request.op === 'broadcast') {
        relay(state, request.event, (error) => reply(null, error));
      } else {
        reply(null, 'unknown request');
      }
    } catch (err) {
      reply(null, err instanceof Error ? err.message : 'request failed');
    }
  };

  /** A worker no longer waits on anything: broadcasts and collections stop waiting for it. */
  const forget = (workerId: number): void => {
    for (const pending of pendingBroadcasts.values()) {
      pending.waiting.delete(workerId);
      if (pending.waiting.size === 0) pending.done();
    }
    for (const pending of pendingMetrics.values()) {
      pending.waiting.delete(workerId);
      if (pending.waiting.size === 0) pending.done();
    }
  };

  let started = false;
  let onStarted: () => void = () => {};
  let onStartFailed: (reason: string) => void = () => {};

  cluster.on('message', (worker, message: unknown) => {
    const state = states.get(worker.id);
    if (!state || !isGroupMessage(message)) return;
    const msg = message as WorkerMessage;
    switch (msg.kind) {
      case `${GROUP_MESSAGE}request`: onRequest(state, msg.id, msg.request); break;
      case `${GROUP_MESSAGE}ready`:
        state.started = true;
        state.ports = { grpcPort: msg.grpcPort, httpPort: msg.httpPort };
        if ([...states.values()].every((s) => s.started)) onStarted();
        break;
      case `${GROUP_MESSAGE}readiness`:
        state.reported = true;
        state.ready = msg.ready;
        state.failing = msg.failing;
        countReady();
        break;
      case `${GROUP_MESSAGE}applied`: {
        const pending = pendingBroadcasts.get(msg.seq);
        if (!pending) break;
        pending.waiting.delete(worker.id);
        if (pending.waiting.size === 0) pending.done();
        break;
      }
      case `${GROUP_MESSAGE}metrics`: {
        const pending = pendingMetrics.get(msg.id);
        if (!pending || !pending.waiting.delete(worker.id)) break;
        pending.results.push(msg.metrics);
        if (pending.waiting.size === 0) pending.done();
        break;
      }
    }
  });

  let exitedUnclean = false;
  cluster.on('exit', (worker, code, signal) => {
    const state = states.get(worker.id);
    states.delete(worker.id);
    workersAlive.set(states.size);
    countReady();
    forget(worker.id);
    if (stopping) {
      // A worker still starting has nothing to drain: our SIGTERM ends it before it handles signals.
      const stoppedWhileStarting = signal === 'SIGTERM' && state?.started !== true;
      if (code !== 0 && !stoppedWhileStarting) exitedUnclean = true;
      return;
    }
    if (!started) {
      onStartFailed(`worker ${worker.process.pid} exited (code ${code ?? 'none'}, signal ${signal ?? 'none'}) before it was ready`);
      return;
    }
    // From here on a worker that dies — serving, or while starting again — is replaced, ever more slowly while it keeps failing.
    const now = Date.now();
    while (crashes.length && crashes[0]! < now - CRASH_MEMORY_MS) crashes.shift();
    crashes.push(now);
    const delay = Math.min(BACKOFF_FIRST_MS * 2 ** (crashes.length - 1), BACKOFF_MAX_MS);
    workerRestartsTotal.inc();
    logger.error({ workerPid: worker.process.pid, code, signal, wasServing: state?.started === true, restartInMs: delay }, 'worker exited unexpectedly; starting another');
    setTimeout(() => { if (!stopping) fork(); }, delay);
  });

  const stopWorkers = async (): Promise<void> => {
    stopping = true;
    const alive = [...states.values()];
    if (alive.length === 0) return;
    const allExited = new Promise<void>((resolve) => {
      const check = () => { if (states.size === 0) { cluster.off('exit', check); resolve(); } };
      cluster.on('exit', check);
    });
    for (const state of alive) state.worker.process.kill('SIGTERM');
    const killTimer = setTimeout(() => {
      logger.warn({ workers: states.size }, 'workers still running after the drain timeout; killing them');
      for (const state of states.values()) state.worker.process.kill('SIGKILL');
    }, DRAIN_TIMEOUT_MS);
    await allExited;
    clearTimeout(killTimer);
  };

  // Start: every worker must come up once; a worker that cannot start (bad config, port taken) stops the group.
  const forwardHangup = () => {
    logger.info({ signal: 'SIGHUP', workers: states.size }, 'forwarding to every worker');
    for (const state of states.values()) state.worker.process.kill('SIGHUP');
    void identityKeys?.reload();
  };
  process.on('SIGHUP', forwardHangup);
  let stopSignal: (signal: string) => void = () => {};
  const stopRequested = new Promise<string>((resolve) => { stopSignal = resolve; });
  const onSigterm = () => stopSignal('SIGTERM');
  const onSigint = () => stopSignal('SIGINT');
  process.once('SIGTERM', onSigterm);
  process.once('SIGINT', onSigint);

  for (let i = 0; i < options.workers; i++) fork();
  const startOutcome = await Promise.race([
    new Promise<string | undefined>((resolve) => {
      onStarted = () => resolve(undefined);
      onStartFailed = (reason) => resolve(reason);
      setTimeout(() => resolve(`workers not ready within ${STARTUP_TIMEOUT_MS / 1000} s`), STARTUP_TIMEOUT_MS).unref();
    }),
    stopRequested.then((signal) => `stopped by ${signal} while starting`),
  ]);
  started = startOutcome === undefined;

  let management: ManagementServer | undefined;
  if (started) {
    const readiness = {
      get ready(): boolean {
        const all = [...states.values()];
        return all.some((s) => s.ready) && all.every((s) => !s.reported || s.failing.length === 0);
      },
    };
    try {
      management = await startManagement(readiness, options.management.host, options.management.port, {
        failingDependencies: () => [...new Set([...states.values()].flatMap((s) => s.failing))],
        jwks: () => identityKeys?.published(),
        metrics: async () => {
          const workers = await collectMetrics();
          return `${await client.AggregatorRegistry.aggregate(workers as never).metrics()}${await groupRegistry.metrics()}`;
        },
      });
      const ports = [...states.values()][0]?.ports ?? { grpcPort: 0, httpPort: 0 };
      logger.info({
        workers: options.workers,
        grpcPort: ports.grpcPort,
        httpPort: ports.httpPort,
        management: `${options.management.host}:${management.port}`,
      }, 'kestra-authz worker group ready');
      options.onStarted?.({ ...ports, managementPort: management.port });
    } catch (err) {
      logger.error({ err: { message: (err as Error).message } }, 'management port could not listen');
      started = false;
    }
  } else {
    logger.error({ reason: startOutcome }, 'worker group did not start');
  }

  function collectMetrics(): Promise<unknown[]> {
    const id = nextSeq++;
    const targets = [...states.values()].filter((s) => s.listening && s.worker.isConnected());
    return new Promise((resolve, reject) => {
      const results: unknown[] = [];
      if (targets.length === 0) {
        resolve(results);
        return;
      }
      const timer = setTimeout(() => {
        pendingMetrics.delete(id);
        reject(new Error('a worker did not send its metrics in time'));
      }, METRICS_TIMEOUT_MS);
      pendingMetrics.set(id, {
        waiting: new Set(targets.map((s) => s.worker.id)),
        results,
        done: () => {
          clearTimeout(timer);
          pendingMetrics.delete(id);
          resolve(results);
        },
      });
      for (const target of targets) send(target, { kind: 'kestra-authz:collect-metrics', id });
    });
  }

  if (started) logger.info({ signal: await stopRequested }, 'shutting down the worker group');
  await stopWorkers();
  await management?.close();
  identityKeys?.close();
  process.off('SIGHUP', forwardHangup);
  process.off('SIGTERM', onSigterm);
  process.off('SIGINT', onSigint);
  return started && !exitedUnclean ? 0 : 1;
}
