/**
 * Basic-auth lockout for a `serve --workers N` group: the counters live in
 * the primary (one LockoutTracker per role, group-primary.ts), every worker
 * asks it. In-memory trackers per worker would give an attacker N × the
 * threshold, one share per worker the kernel hands its connections to.
 *
 * Only for the in-memory lockout: users in PostgreSQL keep their lockout in
 * the database, which already counts for every process and replica.
 * The primary's tracker counts no metric (its registry is not scraped); the
 * worker whose failure started a lock counts it, as a single process would.
 */
import type { LockCounting, LockoutStore } from '../authn/lockout-store.js';
import { lockCounter } from '../authn/lockout-store.js';
import { AuthzError } from '../core/errors.js';
import type { LockoutCall, LockoutMethod } from './group-messages.js';
import type { WorkerLink } from './worker-link.js';

export interface GroupLockoutSettings {
  readonly threshold: number;
  readonly windowSeconds: number;
  readonly lockSeconds: number;
  readonly counting?: LockCounting;
}

/** `role` names the tracker among those one openLockoutStore builds (the same on every worker). */
export function groupLockoutStore(link: WorkerLink, role: string, settings: GroupLockoutSettings): LockoutStore {
  const { threshold, windowSeconds, lockSeconds } = settings;
  const plain = { threshold, windowSeconds, lockSeconds };
  const tracker = `${role} ${JSON.stringify(plain)}`;
  const countLock = lockCounter(settings.counting);
  const call = async (method: LockoutMethod, key: string): Promise<unknown> => {
    const request: LockoutCall = { op: 'lockout', tracker, settings: plain, method, key };
    try {
      return await link.ask(request);
    } catch (err) {
      // Fail closed: the caller refuses the login (store_unavailable), never skips the check.
      throw new AuthzError('ERR_USERS_STORE', `lockout: the serve primary did not answer (${method})`, { cause: err });
    }
  };
  const startedLock = async (method: LockoutMethod, key: string): Promise<boolean> => {
    const started = (await call(method, key)) === true;
    if (started) countLock();
    return started;
  };
  return {
    isLocked: async (key) => (await call('isLocked', key)) === true,
    recordFailure: (key) => startedLock('recordFailure', key),
    recordSuccess: async (key) => { await call('recordSuccess', key); },
    reserve: async (key) => (await call('reserve', key)) === true,
    confirmFailure: (key) => startedLock('confirmFailure', key),
    release: async (key) => { await call('release', key); },
  };
}
