/**
 * Picks where lockout state lives, from the users store in use: users in
 * PostgreSQL share their lockout state through the same database (so every
 * replica counts the same failures); any other store keeps it in memory.
 * The per-address limits (`authz.source-lockout`) live next to the per-user
 * one, in the same place, and ride along on the returned store.
 */
import type { LockoutStore } from '../authn/lockout-store.js';
import { LockoutTracker, type LockoutOptions } from '../authn/lockout.js';
import { shareSettings, SourceLockout, type SourceLockoutSettings } from '../authn/source-lockout.js';
import type { Config } from '../config/types.js';
import { PostgresUsersStore } from './users-postgres.js';
import type { UsersStore } from './users-store.js';

type UserLockoutSettings = Pick<Config['lockout'], 'threshold' | 'windowSeconds' | 'lockSeconds'>;

/**
 * Makes an in-memory lockout store for one role (`users`, `sources`,
 * `user-locks`, `shares`): a LockoutTracker by default; a `serve --workers N`
 * worker passes one that asks the group's primary (server/group-lockout.ts).
 */
export type MemoryLockoutFactory = (role: string, options: LockoutOptions) => LockoutStore;

const trackerInThisProcess: MemoryLockoutFactory = (_role, options) => new LockoutTracker(options);

/** `now` (ms) is for tests: it drives the clock of the in-memory trackers and of PostgreSQL statements. */
export function openLockoutStore(
  lockout: UserLockoutSettings,
  usersStore: UsersStore,
  source?: SourceLockoutSettings,
  now?: () => number,
  memory: MemoryLockoutFactory = trackerInThisProcess,
): LockoutStore {
  const settings = { threshold: lockout.threshold, windowSeconds: lockout.windowSeconds, lockSeconds: lockout.lockSeconds, ...(now ? { now } : {}) };
  const shared = usersStore instanceof PostgresUsersStore ? usersStore : undefined;
  // One table for every kind of key: purge rows only once the longest window of them all is over.
  const purgeAfterSeconds = Math.max(lockout.windowSeconds, source?.enabled ? source.windowSeconds : 0);
  const users: LockoutStore = shared ? shared.sharedLockout({ ...settings, purgeAfterSeconds }) : memory('users', settings);
  if (!source?.enabled) return users;
  const sourceSettings = { threshold: source.threshold, windowSeconds: source.windowSeconds, lockSeconds: source.lockSeconds, ...(now ? { now } : {}) };
  const shareCap = shareSettings(lockout);
  const share = shareCap && { ...shareCap, ...(now ? { now } : {}) };
  const sourceLockout = new SourceLockout(source, {
    sources: shared
      ? shared.sharedLockout({ ...sourceSettings, counting: 'source', purgeAfterSeconds })
      : memory('sources', { ...sourceSettings, counting: 'source' }),
    ...(share ? {
      perUser: {
        // A lock of one user for one address is a user lock in the metrics (what Kestra would have counted).
        locks: shared ? shared.sharedLockout({ ...settings, purgeAfterSeconds }) : memory('user-locks', settings),
        shares: shared
          ? shared.sharedLockout({ ...share, counting: 'none', purgeAfterSeconds })
          : memory('shares', { ...share, counting: 'none' }),
      },
    } : {}),
  });
  return Object.assign(users, { sourceLockout });
}
