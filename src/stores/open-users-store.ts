/**
 * Opens the users store the config names. Only the file store exists in this
 * build; asking for PostgreSQL is a clear error at start-up rather than a
 * stand-in that would accept or refuse users on its own.
 */
import type { Config } from '../config/types.js';
import { AuthzError } from '../core/errors.js';
import { FileUsersStore } from './users-file.js';
import type { UsersStore } from './users-store.js';

export function openUsersStore(config: Config['users']): UsersStore {
  switch (config.store) {
    case 'file':
      return new FileUsersStore(config.file);
    case 'postgres':
      throw new AuthzError('ERR_USERS_STORE', 'PostgreSQL users store is not available in this build yet (authz.users.store: postgres); use authz.users.file');
    default: {
      const unknown: never = config;
      throw new AuthzError('ERR_USERS_STORE', `unknown users store "${String((unknown as { store?: unknown }).store)}"`);
    }
  }
}
