/**
 * Brute-force lockout shared by every replica, in the users database:
 * `kestra_authz_login_failures(key, failures, window_started, locked_until)`.
 * Same semantics as the in-memory LockoutTracker (see lockout-store.ts).
 *
 * - A failure is ONE statement (an UPSERT): the row lock serializes replicas
 *   counting the same key, so N replicas together allow `threshold` guesses.
 *   The update is skipped while the key is locked (WHERE), so a statement
 *   that returns `locked` is exactly the one that started the lock — the
 *   lockout metric counts once per lock across all replicas.
 * - Basic auth reserves an attempt before hashing (`reserve`: one UPSERT
 *   that counts it unless the key is locked or `threshold` attempts are
 *   already counted in the window — no row returned = refused), then
 *   `confirm`s a failure (an UPDATE setting the lock once the count is
 *   reached; only one caller's UPDATE matches) or `release`s the slot. The
 *   row lock makes the count exact across replicas and concurrent requests.
 * - Time is the database's (`now()`): replicas with drifting clocks agree.
 *   Tests may inject a clock; its value is then passed as a parameter.
 * - Rows whose window and lock are over are deleted now and then (at most
 *   once a minute per replica, on a failure), so a spray of made-up names
 *   does not grow the table for ever.
 * - Keys are stored as given (an operator can look a user up), except those
 *   PostgreSQL text cannot hold or that are absurdly long: hashed.
 * - Any database error throws ERR_USERS_STORE; BasicAuthenticator then
 *   answers store_unavailable, never "not locked".
 */
import { createHash } from 'node:crypto';
import type { LockCounting, LockoutStore, LockoutSettings } from '../authn/lockout-store.js';
import { lockCounter, lockoutSettings } from '../authn/lockout-store.js';
import type { PostgresDatabase } from './postgres-database.js';

export interface PostgresLockoutOptions {
  readonly threshold: number;
  readonly windowSeconds: number;
  readonly lockSeconds: number;
  /** Clock in ms for tests; default: the database's now(). */
  readonly now?: () => number;
  /** Which lock metric a lock started here counts (default: a user lock). */
  readonly counting?: LockCounting;
  /**
   * Rows idle this long (and not locked) are purged, seconds; default the
   * window. Several stores share the table (user names, source addresses),
   * so each purges only after the longest window of them all.
   */
  readonly purgeAfterSeconds?: number;
}

const PURGE_INTERVAL_MS = 60_000;
const MAX_PLAIN_KEY_LENGTH = 512;

export class PostgresLockoutStore implements LockoutStore {
  readonly threshold: number;
  readonly windowMs: number;
  readonly lockMs: number;
  readonly #db: PostgresDatabase;
  readonly #now: (() => number) | undefined;
  readonly #sql: ReturnType<typeof statements>;
  readonly #countLock: () => void;
  readonly #purgeAfterSeconds: number;
  #lastPurge = 0;

  constructor(db: PostgresDatabase, options: PostgresLockoutOptions) {
    const settings: LockoutSettings = lockoutSettings(options);
    ({ threshold: this.threshold, windowMs: this.windowMs, lockMs: this.lockMs } = settings);
    this.#db = db;
    this.#now = options.now;
    this.#sql = statements(`${db.schema}.kestra_authz_login_failures`);
    this.#countLock = lockCounter(options.counting);
    this.#purgeAfterSeconds = Math.max(this.windowMs / 1000, options.purgeAfterSeconds ?? 0);
  }

  async isLocked(key: string): Promise<boolean> {
    const { rows } = await this.#db.query<{ locked: boolean }>('lockout_check', this.#sql.isLocked, [storedKey(key), this.#at()]);
    return rows[0]?.locked === true;
  }

  async recordFailure(key: string): Promise<boolean> {
    const { rows } = await this.#db.query<{ locked: boolean }>('lockout_failure', this.#sql.failure,
      [storedKey(key), this.threshold, this.windowMs / 1000, this.lockMs / 1000, this.#at()]);
    const started = rows[0]?.locked === true;
    if (started) this.#countLock();
    this.#purgeNowAndThen();
    return started;
  }

  async recordSuccess(key: string): Promise<void> {
    await this.#db.query('lockout_success', this.#sql.success, [storedKey(key), this.#at()]);
  }

  async reserve(key: string): Promise<boolean> {
    const { rows } = await this.#db.query<{ granted: boolean }>('lockout_reserve', this.#sql.reserve,
      [storedKey(key), this.threshold, this.windowMs / 1000, this.lockMs / 1000, this.#at()]);
    this.#purgeNowAndThen();
    return rows[0]?.granted === true;
  }

  async confirmFailure(key: string): Promise<boolean> {
    const { rows } = await this.#db.query<{ locked: boolean }>('lockout_confirm', this.#sql.confirm,
      [storedKey(key), this.threshold, this.windowMs / 1000, this.lockMs / 1000, this.#at()]);
    const started = rows[0]?.locked === true;
    if (started) this.#countLock();
    return started;
  }

  async release(key: string): Promise<void> {
    await this.#db.query('lockout_release', this.#sql.release, [storedKey(key)]);
  }

  /** The injected time as a parameter, or null for the database's now(). */
  #at(): Date | null {
    return this.#now ? new Date(this.#now()) : null;
  }

  #purgeNowAndThen(): void {
    const now = Date.now();
    if (now - this.#lastPurge < PURGE_INTERVAL_MS) return;
    this.#lastPurge = now;
    // Not awaited: housekeeping must not slow an answer; a failure is counted by the database wrapper.
    void this.#db.query('lockout_purge', this.#sql.purge, [this.#purgeAfterSeconds, this.#at()]).catch(() => undefined);
  }
}

function statements(table: string) {
  const now = 'coalesce($5::timestamptz, now())';
  // The window restarts when it has run out, or after a lock (which already counted its failures).
  const restart = `(f.locked_until IS NOT NULL OR f.window_started <= EXCLUDED.window_started - make_interval(secs => $3::float8))`;
  const counted = `(CASE WHEN ${restart} THEN 1 ELSE f.failures + 1 END)`;
  const lockFrom = (start: string) => `${start} + make_interval(secs => $4::float8)`;
  return {
    isLocked: `SELECT locked_until > coalesce($2::timestamptz, now()) AS locked FROM ${table} WHERE key = $1`,
    failure: `
      INSERT INTO ${table} AS f (key, failures, window_started, locked_until)
      VALUES ($1, 1, ${now}, CASE WHEN $2::int <= 1 AND $4::float8 > 0 THEN ${lockFrom(now)} END)
      ON CONFLICT (key) DO UPDATE SET
        failures = ${counted},
        window_started = CASE WHEN ${restart} THEN EXCLUDED.window_started ELSE f.window_started END,
        locked_until = CASE WHEN $4::float8 > 0 AND ${counted} >= $2::int THEN ${lockFrom('EXCLUDED.window_started')} END
      WHERE f.locked_until IS NULL OR f.locked_until <= EXCLUDED.window_started
      RETURNING locked_until IS NOT NULL AS locked`,
    // One attempt counted before it is checked; no row returned = refused (locked, or the window's attempts used up).
    reserve: `
      INSERT INTO ${table} AS f (key, failures, window_started, locked_until)
      VALUES ($1, 1, ${now}, NULL)
      ON CONFLICT (key) DO UPDATE SET
        failures = ${counted},
        window_started = CASE WHEN ${restart} THEN EXCLUDED.window_started ELSE f.window_started END,
        locked_until = NULL
      WHERE (f.locked_until IS NULL OR f.locked_until <= EXCLUDED.window_started)
        AND ($4::float8 <= 0 OR ${restart} OR f.failures < $2::int)
      RETURNING true AS granted`,
    // A counted attempt failed: the lock starts once the window holds `threshold` of them (exactly one caller starts it).
    confirm: `
      UPDATE ${table} SET locked_until = ${now} + make_interval(secs => $4::float8)
      WHERE key = $1 AND $4::float8 > 0 AND failures >= $2::int AND locked_until IS NULL
        AND window_started > ${now} - make_interval(secs => $3::float8)
      RETURNING true AS locked`,
    release: `UPDATE ${table} SET failures = failures - 1 WHERE key = $1 AND failures > 0 AND locked_until IS NULL`,
    // A success clears the count, never a lock (the caller checked the lock first).
    success: `DELETE FROM ${table} WHERE key = $1 AND (locked_until IS NULL OR locked_until <= coalesce($2::timestamptz, now()))`,
    purge: `
      DELETE FROM ${table}
      WHERE (locked_until IS NULL OR locked_until <= coalesce($2::timestamptz, now()))
        AND window_started <= coalesce($2::timestamptz, now()) - make_interval(secs => $1::float8)`,
  };
}

/** PostgreSQL text cannot hold NUL; very long keys are only attack noise. Both are hashed. */
function storedKey(key: string): string {
  if (key.length <= MAX_PLAIN_KEY_LENGTH && !key.includes('\u0000')) return key;
  return `sha256:${createHash('sha256').update(key, 'utf8').digest('hex')}`;
}
