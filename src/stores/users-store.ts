/**
 * The local-users store interface (Basic auth, `auths users` CLI).
 * Implementations: users-file.ts (default, YAML file), and later PostgreSQL.
 */
export interface UserRecord {
  readonly username: string;
  /** Encoded slow hash, e.g. `scrypt$<N>$<r>$<p>$<salt b64url>$<hash b64url>`; never a password. */
  readonly passwordHash: string;
  /** Holds the built-in admin role (every permission). */
  readonly admin: boolean;
  /** Tenant the user belongs to; undefined = every tenant. */
  readonly tenant?: string;
  readonly groups: readonly string[];
}

export interface UsersStore {
  /** undefined when the user does not exist. Throws AuthzError ERR_USERS_STORE when the store is unreachable. */
  get(username: string): Promise<UserRecord | undefined>;
  list(): Promise<UserRecord[]>;
  /** Throws AuthzError ERR_USER_EXISTS unless ifNotExists (then returns false and changes nothing). */
  create(user: UserRecord, options?: { ifNotExists?: boolean }): Promise<boolean>;
  /** Throws AuthzError ERR_USER_NOT_FOUND. */
  delete(username: string): Promise<void>;
  /** Throws AuthzError ERR_USER_NOT_FOUND. */
  setPasswordHash(username: string, passwordHash: string): Promise<void>;
  close(): Promise<void>;
}
