/**
 * Picks where lockout state lives, from the users store in use: users in
 * PostgreSQL share their lockout state through the same database (so every
 * replica counts the same failures); any other store keeps it in memory.
 */
import type { LockoutStore } from '../authn/lockout-store.js';
import { LockoutTracker } from '../authn/lockout.js';
import type { Config } from '../config/types.js';
import { PostgresUsersStore } from './users-postgres.js';
import type { UsersStore } from './users-store.js';

export function openLockoutStore(lockout: Config['lockout'], usersStore: UsersStore): LockoutStore {
  return usersStore instanceof PostgresUsersStore ? usersStore.sharedLockout(lockout) : new LockoutTracker(lockout);
}
