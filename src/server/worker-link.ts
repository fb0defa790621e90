/**
 * A worker's side of the `serve --workers N` group (group-messages.ts): asks
 * the primary (lockout, broadcasts), applies the events other workers
 * broadcast, answers metric collections, reports readiness.
 *
 * A request the primary does not answer within REQUEST_TIMEOUT_MS rejects:
 * callers fail closed (Basic auth answers store_unavailable, a logout 503).
 */
import { registry } from '../observability/metrics.js';
import { GROUP_MESSAGE, isGroupMessage, type GroupEvent, type GroupRequest, type PrimaryMessage, type WorkerMessage } from './group-messages.js';

const REQUEST_TIMEOUT_MS = 2_000;

export interface WorkerLink {
  /** Sends `request` to the primary; resolves with its answer. */
  ask(request: GroupRequest): Promise<unknown>;
  /** Hands `event` to every other worker; resolves once they all applied it. */
  broadcast(event: GroupEvent): Promise<void>;
  /** `apply` runs for every event another worker broadcast (and, at start, for those sent before this worker existed). */
  onEvent(apply: (event: GroupEvent) => void): void;
  /** Asks the primary for the events this worker missed; applies them. Call once handlers are set, before serving. */
  catchUp(): Promise<void>;
  reportReady(grpcPort: number, httpPort: number): void;
  reportReadiness(ready: boolean, failing: readonly string[]): void;
  /** Stops listening to the primary (so the process can exit). */
  close(): void;
}

/** The link of this cluster worker process (`process.send` must exist). */
export function connectWorkerLink(): WorkerLink {
  const send = (message: WorkerMessage): void => {
    if (process.connected) process.send!(message);
  };
  const pending = new Map<number, { resolve(value: unknown): void; reject(err: Error): void; timer: NodeJS.Timeout }>();
  const appliers: Array<(event: GroupEvent) => void> = [];
  let nextId = 1;

  const apply = (event: GroupEvent): void => {
    for (const applier of appliers) applier(event);
  };

  const onMessage = (message: unknown): void => {
    if (!isGroupMessage(message)) return;
    const msg = message as PrimaryMessage;
    if (msg.kind === `${GROUP_MESSAGE}reply`) {
      const waiting = pending.get(msg.id);
      if (!waiting) return;
      pending.delete(msg.id);
      clearTimeout(waiting.timer);
      if (msg.error !== undefined) waiting.reject(new Error(msg.error));
      else waiting.resolve(msg.value);
    } else if (msg.kind === `${GROUP_MESSAGE}event`) {
      apply(msg.event);
      send({ kind: 'kestra-authz:applied', seq: msg.seq });
    } else if (msg.kind === `${GROUP_MESSAGE}collect-metrics`) {
      registry.getMetricsAsJSON().then(
        (metrics) => send({ kind: 'kestra-authz:metrics', id: msg.id, metrics }),
        () => send({ kind: 'kestra-authz:metrics', id: msg.id, metrics: [] }),
      );
    }
  };
  process.on('message', onMessage);

  const ask = (request: GroupRequest): Promise<unknown> => new Promise((resolve, reject) => {
    if (!process.connected) {
      reject(new Error('the primary process is gone'));
      return;
    }
    const id = nextId++;
    const timer = setTimeout(() => {
      pending.delete(id);
      reject(new Error(`the primary did not answer (${request.op})`));
    }, REQUEST_TIMEOUT_MS);
    pending.set(id, { resolve, reject, timer });
    send({ kind: 'kestra-authz:request', id, request });
  });

  return {
    ask,
    broadcast: async (event) => { await ask({ op: 'broadcast', event }); },
    onEvent: (applier) => { appliers.push(applier); },
    async catchUp() {
      const missed = await ask({ op: 'hello' }) as readonly GroupEvent[];
      for (const event of missed) apply(event);
    },
    reportReady: (grpcPort, httpPort) => send({ kind: 'kestra-authz:ready', grpcPort, httpPort }),
    reportReadiness: (ready, failing) => send({ kind: 'kestra-authz:readiness', ready, failing }),
    close() {
      process.off('message', onMessage);
      for (const [id, waiting] of pending) {
        clearTimeout(waiting.timer);
        waiting.reject(new Error('closing'));
        pending.delete(id);
      }
    },
  };
}
