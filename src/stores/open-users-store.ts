/**
 * Opens the users store the config names: a YAML file (default) or a
 * PostgreSQL table shared by every replica. Opening is synchronous and does
 * no I/O; a PostgreSQL store connects and migrates at its first query (the
 * service's warm-up, or the CLI's first command).
 */
import type { Config } from '../config/types.js';
import { AuthzError } from '../core/errors.js';
import { FileUsersStore } from './users-file.js';
import { PostgresUsersStore } from './users-postgres.js';
import type { UsersStore } from './users-store.js';

export function openUsersStore(config: Config['users']): UsersStore {
  switch (config.store) {
    case 'file':
      return new FileUsersStore(config.file);
    case 'postgres':
      return new PostgresUsersStore(config.url);
    default: {
      const unknown: never = config;
      throw new AuthzError('ERR_USERS_STORE', `unknown users store "${String((unknown as { store?: unknown }).store)}"`);
    }
  }
}
