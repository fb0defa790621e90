/**
 * Brute-force lockout, Kestra's `login.failed-attempts` semantics, in memory
 * (the default LockoutStore; its methods are synchronous, so the memory path
 * costs no I/O — see lockout-store.ts for the shared PostgreSQL one):
 * - failures are counted per key inside a fixed monitoring window that opens
 *   at the first failure (`windowSeconds`); a window that has run out starts
 *   again from zero;
 * - reaching `threshold` failures locks the key for `lockSeconds`; while
 *   locked the caller must refuse every attempt without checking the password
 *   (even a correct one), so a lock cannot be used as a password oracle;
 * - a success clears the count.
 *
 * Keys are opaque strings (today a user name; a per-address key can be added
 * by the caller without changing this class).
 *
 * Memory is bounded: counting and locked keys live in two insertion-ordered
 * maps, each capped at `maxKeys`; the least recently touched entry goes
 * first. They are separate so that an attacker spraying made-up user names
 * evicts only other counters, never a lock that protects a real account.
 */
import { checkOption, lockCounter, lockoutSettings, type LockCounting, type LockoutStore } from './lockout-store.js';

export interface LockoutOptions {
  /** Failures within the window that start a lock (≥ 1). */
  readonly threshold: number;
  /** Monitoring window, seconds (> 0). */
  readonly windowSeconds: number;
  /** How long a lock lasts, seconds (≥ 0; 0 = never lock). */
  readonly lockSeconds: number;
  /** Clock in milliseconds; default Date.now. */
  readonly now?: () => number;
  /** Cap on tracked keys, per map (default 100 000). */
  readonly maxKeys?: number;
  /** Which lock metric a lock started here counts (default: a user lock). */
  readonly counting?: LockCounting;
}

interface Counter {
  windowStart: number;
  failures: number;
}

export const DEFAULT_MAX_LOCKOUT_KEYS = 100_000;

export class LockoutTracker implements LockoutStore {
  readonly threshold: number;
  readonly windowMs: number;
  readonly lockMs: number;
  readonly maxKeys: number;
  readonly #now: () => number;
  readonly #countLock: () => void;
  readonly #counting = new Map<string, Counter>();
  /** key → lock end (ms). */
  readonly #locked = new Map<string, number>();

  constructor(options: LockoutOptions) {
    ({ threshold: this.threshold, windowMs: this.windowMs, lockMs: this.lockMs } = lockoutSettings(options));
    this.maxKeys = checkOption('maxKeys', options.maxKeys ?? DEFAULT_MAX_LOCKOUT_KEYS, (v) => Number.isInteger(v) && v >= 1, 'an integer ≥ 1');
    this.#now = options.now ?? Date.now;
    this.#countLock = lockCounter(options.counting);
  }

  /** True while the key is locked. An expired lock is forgotten here, so the key starts afresh. */
  isLocked(key: string): boolean {
    const until = this.#locked.get(key);
    if (until === undefined) return false;
    if (this.#now() < until) return true;
    this.#locked.delete(key);
    return false;
  }

  /**
   * Counts one failed attempt. Returns true when this failure started a lock
   * (the lockout metric is incremented exactly then). Failures reported while
   * the key is locked are ignored: callers should not even have checked.
   */
  recordFailure(key: string): boolean {
    if (this.isLocked(key)) return false;
    const now = this.#now();
    let counter = this.#counting.get(key);
    if (counter && now - counter.windowStart >= this.windowMs) counter = undefined;
    if (!counter) counter = { windowStart: now, failures: 0 };
    counter.failures++;
    this.#counting.delete(key); // re-inserted below: the map's order is "least recently touched first"
    if (counter.failures < this.threshold) {
      setCapped(this.#counting, key, counter, this.maxKeys);
      return false;
    }
    if (this.lockMs === 0) return false; // counting without locking: nothing to remember
    setCapped(this.#locked, key, now + this.lockMs, this.maxKeys);
    this.#countLock();
    return true;
  }

  /** A successful login clears the failure count (a lock, if any, was already checked by the caller). */
  recordSuccess(key: string): void {
    this.#counting.delete(key);
  }

  /** Counts one attempt before it is checked; false = locked, or `threshold` attempts already counted in this window. */
  reserve(key: string): boolean {
    if (this.isLocked(key)) return false;
    if (this.lockMs === 0) return true; // counting without locking: nothing to refuse
    const now = this.#now();
    let counter = this.#counting.get(key);
    if (counter && now - counter.windowStart >= this.windowMs) counter = undefined;
    if (!counter) counter = { windowStart: now, failures: 0 };
    if (counter.failures >= this.threshold) return false;
    counter.failures++;
    setCapped(this.#counting, key, counter, this.maxKeys);
    return true;
  }

  /** A reserved attempt failed: locks the key when its window holds `threshold` counted attempts. */
  confirmFailure(key: string): boolean {
    if (this.lockMs === 0 || this.isLocked(key)) return false;
    const counter = this.#counting.get(key);
    const now = this.#now();
    if (!counter || counter.failures < this.threshold || now - counter.windowStart >= this.windowMs) return false;
    this.#counting.delete(key);
    setCapped(this.#locked, key, now + this.lockMs, this.maxKeys);
    this.#countLock();
    return true;
  }

  /** Gives a reserved attempt's slot back (it succeeded, or another limit refused it). */
  release(key: string): void {
    const counter = this.#counting.get(key);
    if (counter && counter.failures > 0) counter.failures--;
  }

  /** Keys currently tracked (counting + locked), for tests and diagnostics. */
  get size(): number {
    return this.#counting.size + this.#locked.size;
  }

  /** Keys currently locked (expired locks included until next looked at). */
  get lockedCount(): number {
    return this.#locked.size;
  }
}

function setCapped<V>(map: Map<string, V>, key: string, value: V, max: number): void {
  map.delete(key);
  map.set(key, value);
  while (map.size > max) {
    const oldest = map.keys().next();
    if (oldest.done) break;
    map.delete(oldest.value);
  }
}
