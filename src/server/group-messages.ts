/**
 * The messages between a `serve --workers N` primary and its workers (over
 * node:cluster's IPC channel). Every one carries `kind` starting with
 * GROUP_MESSAGE so the primary and workers ignore anything else on the
 * channel (node:cluster's own messages, prom-client's).
 *
 * Worker → primary:
 * - `hello`: the worker listens for events now; the primary answers with the
 *   events it missed (replay) before the worker serves anything;
 * - `ready`: doors listening (their ports); `readiness`: ready or not, with
 *   the failing dependencies' names;
 * - `request`: a lockout operation on the group's one tracker, or an event to
 *   hand to every other worker (answered once they all applied it);
 * - `applied`: this worker applied event `seq`; `metrics`: its registry as JSON.
 * Primary → worker: `reply`, `event`, `collect-metrics`.
 */
import type { RevocationEntry } from '../stores/session-revocations.js';

export const GROUP_MESSAGE = 'kestra-authz:';

/** What every worker must know: a /logout ended a cookie session, or a back-channel logout revoked some. */
export type GroupEvent =
  | { readonly type: 'ended'; readonly sid: string; readonly untilSeconds: number }
  | { readonly type: 'revoked'; readonly entries: readonly RevocationEntry[]; readonly untilSeconds: number };

export type LockoutMethod = 'isLocked' | 'recordFailure' | 'recordSuccess' | 'reserve' | 'confirmFailure' | 'release';

export interface LockoutCall {
  readonly op: 'lockout';
  /** Which tracker (openLockoutStore's role and its settings): the same string on every worker. */
  readonly tracker: string;
  readonly settings: { readonly threshold: number; readonly windowSeconds: number; readonly lockSeconds: number };
  readonly method: LockoutMethod;
  readonly key: string;
}

export type GroupRequest = LockoutCall | { readonly op: 'broadcast'; readonly event: GroupEvent } | { readonly op: 'hello' };

export type WorkerMessage =
  | { readonly kind: 'kestra-authz:request'; readonly id: number; readonly request: GroupRequest }
  | { readonly kind: 'kestra-authz:ready'; readonly grpcPort: number; readonly httpPort: number }
  | { readonly kind: 'kestra-authz:readiness'; readonly ready: boolean; readonly failing: readonly string[] }
  | { readonly kind: 'kestra-authz:applied'; readonly seq: number }
  | { readonly kind: 'kestra-authz:metrics'; readonly id: number; readonly metrics: unknown };

export type PrimaryMessage =
  | { readonly kind: 'kestra-authz:reply'; readonly id: number; readonly value?: unknown; readonly error?: string }
  | { readonly kind: 'kestra-authz:event'; readonly seq: number; readonly event: GroupEvent }
  | { readonly kind: 'kestra-authz:collect-metrics'; readonly id: number };

export function isGroupMessage(message: unknown): message is { readonly kind: string } {
  return typeof message === 'object' && message !== null
    && typeof (message as { kind?: unknown }).kind === 'string'
    && (message as { kind: string }).kind.startsWith(GROUP_MESSAGE);
}
