/**
 * HTTP Basic authentication of local users (RFC 7617), with brute-force
 * lockout and a short-lived cache of successful verifications.
 *
 * Order of checks, and why:
 * 1. no `Authorization: Basic …` → skip (another authenticator may apply);
 * 2. Basic turned off → fail `basic_disabled` (a credential was sent: saying
 *    so beats a puzzling "no credentials");
 * 3. malformed header → `basic_bad_credentials`;
 * 4. source address blocked (`authz.source-lockout`) →
 *    `basic_source_locked_out`, then user name locked → `basic_locked_out`,
 *    both before the user is looked up or the password checked, so a lock is
 *    never a password oracle (policy: source-lockout.ts);
 * 5. store down (users or a shared lockout store) → `store_unavailable` (503),
 *    never an allow and never a skipped lock check;
 * 6. unknown user → the same scrypt work against DUMMY_HASH, then the same
 *    answer as a wrong password, and the failure counts toward a lock just
 *    like for a real user: neither timing nor lockout tells who exists.
 *
 * Every attempt that will run scrypt is first counted in the lockout stores
 * (per address, per user; in memory or in PostgreSQL, atomically), and is
 * refused without a hash when the window's budget is used up — counting
 * attempts still in flight. So 100 parallel guesses, for one user name or
 * for many from one address, run at most `threshold` hashes per window, on
 * one replica or several. A failure then confirms the count (and may start
 * the lock); a success gives the address its slot back and clears the
 * user's count, as before. `basic_auth_password_checks_total` counts the
 * hashes.
 *
 * Attempts for one user name are also verified one at a time, so a burst of
 * parallel correct requests costs one scrypt (the rest hit the cache).
 */
import { createHash, randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { AuthRequest } from '../core/auth-request.js';
import type { Identity } from '../core/identity.js';
import type { AuthnFailureReason } from '../core/reasons.js';
import { basicPasswordChecksTotal } from '../observability/lockout-metrics.js';
import type { UserRecord, UsersStore } from '../stores/users-store.js';
import { SKIP, type Authenticator, type AuthnResult } from './authenticator.js';
import { credentialStamp } from './credential-stamp.js';
import type { LockoutStore } from './lockout-store.js';
import type { SourceReservation } from './source-lockout.js';
import { parseBasicHeader, type Credentials } from './basic-header.js';
import { DUMMY_HASH, verifyPassword } from './password-hash.js';

export { MAX_BASIC_HEADER_LENGTH, parseBasicHeader } from './basic-header.js';

export interface BasicAuthenticatorOptions {
  readonly store: UsersStore;
  /** In memory (LockoutTracker) or shared between replicas (PostgreSQL). */
  readonly lockout: LockoutStore;
  /** `kestra.security.basic-auth.enabled`. */
  readonly enabled: boolean;
  /** How long a successful verification is reused (default 60 s). */
  readonly cacheTtlMs?: number;
  /** Max cached verifications (default 10 000). */
  readonly cacheSize?: number;
  /** Clock for the cache, ms (default performance.now via lru-cache). */
  readonly now?: () => number;
}


/** The attempt's place in the lockout counts (source-lockout.ts SourceReservation, also without per-address limits). */
type Slot = SourceReservation;
const COUNTS_FOR_USER: Slot = Object.freeze({ countsForUser: true });
const USER_REFUSED: Slot = Object.freeze({ refused: 'user', countsForUser: false });

const fail = (reason: AuthnFailureReason, description: string): AuthnResult =>
  ({ kind: 'fail', reason, description, scheme: 'Basic' });

const BAD_CREDENTIALS = fail('basic_bad_credentials', 'invalid username or password');
const MALFORMED = fail('basic_bad_credentials', 'malformed Basic credentials');
const LOCKED = fail('basic_locked_out', 'too many failed attempts: this account is temporarily locked, try again later');
const SOURCE_LOCKED = fail('basic_source_locked_out', 'too many failed attempts from this address: try again later');
const DISABLED = fail('basic_disabled', 'Basic authentication is disabled on this server');
const STORE_DOWN = fail('store_unavailable', 'the users store is unavailable');

export class BasicAuthenticator implements Authenticator {
  readonly name = 'basic' as const;
  readonly #store: UsersStore;
  readonly #lockout: LockoutStore;
  readonly #enabled: boolean;
  /** cache key → the stored hash the password was verified against. */
  readonly #verified: LRUCache<string, string>;
  /** Per-process salt: cache keys are useless outside this process. */
  readonly #cacheSalt = randomBytes(32);
  /** identity handed out → the stamp of the password it was verified against (credential-stamp.ts). */
  readonly #stamps = new WeakMap<Identity, string>();
  /** user name → tail of the queue of verifications in progress for it. */
  readonly #queues = new Map<string, Promise<unknown>>();

  constructor(options: BasicAuthenticatorOptions) {
    this.#store = options.store;
    this.#lockout = options.lockout;
    this.#enabled = options.enabled;
    const now = options.now;
    this.#verified = new LRUCache<string, string>({
      max: options.cacheSize ?? 10_000,
      ttl: options.cacheTtlMs ?? 60_000,
      ttlAutopurge: false,
      // An injected clock is read on every look-up (no 1 ms caching of "now").
      ...(now ? { perf: { now }, ttlResolution: 0 } : {}),
    });
  }

  /** Live cached verifications (expired ones dropped first); for diagnostics and tests. */
  get cachedVerifications(): number {
    this.#verified.purgeStale();
    return this.#verified.size;
  }

  /** Skipped, refused as disabled or as malformed at once; a promise only for credentials to check. */
  authenticate(req: AuthRequest): AuthnResult | Promise<AuthnResult> {
    const credentials = parseBasicHeader(req.headers.authorization);
    if (credentials === undefined) return SKIP;
    if (!this.#enabled) return DISABLED;
    if (credentials === null) return MALFORMED;
    return this.#check(credentials, req);
  }

  async #check(credentials: Credentials, req: AuthRequest): Promise<AuthnResult> {
    const { username } = credentials;
    const source = this.#lockout.sourceLockout?.groupOf(req.sourceAddress);
    const locked = await this.#isLocked(username, source);
    if (locked !== false) return locked;
    const cacheKey = this.#cacheKey(credentials);
    // Fast path: a recent success for exactly this password and this stored hash.
    const fast = await this.#lookup(username);
    if (fast === 'down') return STORE_DOWN;
    if (fast && this.#verified.get(cacheKey) === fast.passwordHash) return this.#success(fast, source);
    return this.#oneAtATime(username, () => this.#verify(credentials, cacheKey, source));
  }

  async #verify(credentials: Credentials, cacheKey: string, source: string | undefined): Promise<AuthnResult> {
    const { username, password } = credentials;
    // Re-checked: the attempts queued before this one may have locked the name or blocked the address.
    const locked = await this.#isLocked(username, source);
    if (locked !== false) return locked;
    const user = await this.#lookup(username);
    if (user === 'down') return STORE_DOWN;
    if (user && this.#verified.get(cacheKey) === user.passwordHash) return this.#success(user, source);
    // The attempt is counted BEFORE the hash runs: however many arrive at once, at most `threshold` are checked per window.
    let slot: Slot;
    try {
      slot = await this.#reserve(username, source);
    } catch {
      // An attempt that cannot be counted must not become a free guess: answer as the store being down.
      return STORE_DOWN;
    }
    if (slot.refused) return slot.refused === 'source' ? SOURCE_LOCKED : LOCKED;
    basicPasswordChecksTotal.inc();
    const matches = await verifyPassword(password, user ? user.passwordHash : DUMMY_HASH);
    if (!user || !matches) {
      try {
        if (source !== undefined) await this.#lockout.sourceLockout!.confirmFailure(source, username, slot);
        if (slot.countsForUser) await this.#lockout.confirmFailure(username);
      } catch {
        return STORE_DOWN;
      }
      return BAD_CREDENTIALS;
    }
    try {
      // A success is no failure: the address gets its slot back (a success never clears its count, nor adds to it).
      if (source !== undefined) await this.#lockout.sourceLockout!.release(source, username, slot);
    } catch {
      // The slot stays counted: that only errs towards locking.
    }
    this.#verified.set(cacheKey, user.passwordHash);
    return this.#success(user, source);
  }

  /** Counts the attempt for the address (source-lockout.ts) and the user; refused = do not check the password. */
  async #reserve(username: string, source: string | undefined): Promise<Slot> {
    const sources = source === undefined ? undefined : this.#lockout.sourceLockout!;
    // The address first: it may have used up its share of this user's threshold (then the user's count does not take it).
    const bySource = sources ? await sources.reserve(source!, username) : COUNTS_FOR_USER;
    if (bySource.refused || !bySource.countsForUser) return bySource;
    if (await this.#lockout.reserve(username)) return bySource;
    if (sources) await sources.release(source!, username, bySource);
    return USER_REFUSED;
  }

  async #success(user: UserRecord, source: string | undefined): Promise<AuthnResult> {
    try {
      await this.#lockout.recordSuccess(user.username);
      if (source !== undefined) await this.#lockout.sourceLockout?.recordSuccess(source, user.username);
    } catch {
      // The password was right and the lock check just passed; a count left behind only errs towards locking.
    }
    const identity: Identity = {
      via: 'basic',
      subject: user.username,
      name: user.username,
      groups: user.groups,
      ...(user.tenant !== undefined ? { tenant: user.tenant } : {}),
      admin: user.admin,
    };
    this.#stamps.set(identity, credentialStamp(user));
    return { kind: 'ok', identity };
  }

  /** The stamp of the stored password an identity from this authenticator was verified against (for a form session). */
  credentialStampOf(identity: Identity): string | undefined {
    return this.#stamps.get(identity);
  }

  /** false, or the answer to give: address blocked, name locked, or the lockout store is down (never "not locked" on error). */
  async #isLocked(username: string, source: string | undefined): Promise<false | AuthnResult> {
    try {
      if (source !== undefined) {
        const sources = this.#lockout.sourceLockout!;
        if (await sources.isBlocked(source)) return SOURCE_LOCKED;
        if (await sources.isUserLockedHere(source, username)) return LOCKED;
      }
      return (await this.#lockout.isLocked(username)) ? LOCKED : false;
    } catch {
      return STORE_DOWN;
    }
  }

  async #lookup(username: string): Promise<UserRecord | undefined | 'down'> {
    try {
      return await this.#store.get(username);
    } catch {
      // Any store failure is "unavailable": it must never turn into an allow, nor into a counted failure.
      return 'down';
    }
  }

  /** SHA-256 over a per-process salt and `user:password` (unambiguous: user names cannot hold ':'). */
  #cacheKey({ username, password }: Credentials): string {
    return createHash('sha256').update(this.#cacheSalt).update(`${username}:${password}`, 'utf8').digest('base64url');
  }

  /** Runs `task` after every earlier task for the same user name has finished. */
  async #oneAtATime<T>(username: string, task: () => Promise<T>): Promise<T> {
    const previous = this.#queues.get(username) ?? Promise.resolve();
    const current = previous.then(task, task);
    const tail = current.catch(() => undefined);
    this.#queues.set(username, tail);
    try {
      return await current;
    } finally {
      if (this.#queues.get(username) === tail) this.#queues.delete(username);
    }
  }
}
