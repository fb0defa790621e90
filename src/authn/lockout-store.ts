/**
 * Where brute-force lockout state lives. Two implementations:
 * - LockoutTracker (lockout.ts): in this process's memory, synchronous — the
 *   default, and right for one replica or a users file;
 * - PostgresLockoutStore (stores/lockout-postgres.ts): one row per key in the
 *   users database, so N replicas together allow `threshold` guesses, not
 *   `threshold × N`.
 *
 * Methods may answer synchronously or with a promise: the memory path stays a
 * plain function call, and callers simply `await` either. A shared store that
 * cannot be reached throws (AuthzError ERR_USERS_STORE); the caller must then
 * fail closed (Basic auth answers store_unavailable), never skip the check.
 *
 * Semantics (both implementations): failures are counted per key in a window
 * that opens at the first failure; reaching the threshold locks the key for
 * the lock duration; a locked key is refused before any password check; a
 * success clears the count (not a lock). The lockout metric is incremented
 * once per lock, by whoever started it.
 *
 * Basic auth counts an attempt before its password hash runs (reserve), then
 * confirms the failure or releases the slot: a burst of parallel guesses
 * cannot all be checked before the first failure is counted. (recordFailure
 * is reserve + confirmFailure in one step.)
 */
import { countLock, type LockScope } from '../observability/lockout-metrics.js';
import type { SourceLockout } from './source-lockout.js';

export interface LockoutStore {
  /** True while the key is locked. */
  isLocked(key: string): boolean | Promise<boolean>;
  /** Counts one failed attempt; true when this very failure started a lock. */
  recordFailure(key: string): boolean | Promise<boolean>;
  /** A successful login clears the failure count (a lock, if any, stays). */
  recordSuccess(key: string): void | Promise<void>;
  /**
   * Counts one attempt BEFORE its password is checked, atomically: false when
   * the key is locked or the window's `threshold` attempts are already
   * counted (some still being checked) — the caller refuses without checking.
   * So at most `threshold` checks run per window, whatever the concurrency.
   */
  reserve(key: string): boolean | Promise<boolean>;
  /** A reserved attempt failed: locks the key once the window's count reached the threshold; true when this started the lock. */
  confirmFailure(key: string): boolean | Promise<boolean>;
  /** A reserved attempt does not count after all (it succeeded, or another limit refused it): its slot is given back. */
  release(key: string): void | Promise<void>;
  /**
   * Per-address limits that go with this per-user store (`authz.source-lockout`,
   * attached by openLockoutStore); absent = none. Carried here so every
   * BasicAuthenticator built from the store (header and login form) applies them.
   */
  readonly sourceLockout?: SourceLockout;
}

/** Validated lockout settings, shared by every implementation. */
export interface LockoutSettings {
  readonly threshold: number;
  readonly windowMs: number;
  readonly lockMs: number;
}

/**
 * What a store does when it starts a lock: count a user lock (the default),
 * a source-address block, or nothing (a helper store such as the
 * per-address share of a user's count, source-lockout.ts).
 */
export type LockCounting = LockScope | 'none';

export function lockCounter(counting: LockCounting = 'user'): () => void {
  return counting === 'none' ? () => undefined : () => countLock(counting);
}

/** Options are checked once, at construction, with an error that names the option. */
export function lockoutSettings(options: { threshold: number; windowSeconds: number; lockSeconds: number }): LockoutSettings {
  return {
    threshold: checkOption('threshold', options.threshold, (v) => Number.isInteger(v) && v >= 1, 'an integer ≥ 1'),
    windowMs: checkOption('windowSeconds', options.windowSeconds, (v) => v > 0, 'a number > 0') * 1000,
    lockMs: checkOption('lockSeconds', options.lockSeconds, (v) => v >= 0, 'a number ≥ 0') * 1000,
  };
}

export function checkOption(option: string, value: unknown, valid: (v: number) => boolean, expected: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || !valid(value)) {
    throw new TypeError(`lockout option "${option}" must be ${expected}`);
  }
  return value;
}
