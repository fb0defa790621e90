/**
 * Local users in PostgreSQL (`authz.users: { store: postgres, url }`): every
 * replica and the `auths users` CLI share one table, `kestra_authz_users`.
 *
 * - No cache here: each `get` is one primary-key read, so a user created or a
 *   password changed anywhere is seen by the next request. (BasicAuthenticator
 *   keeps its short cache of verifications keyed by the stored hash, which it
 *   re-reads on every request, so a changed password is noticed at once.)
 * - Names follow the rules of every users store (users-yaml.ts); a name that
 *   could not be stored is "no such user" without a query.
 * - A row that breaks those rules (edited by hand) fails closed: the read
 *   throws ERR_USERS_STORE rather than guessing.
 * - All SQL is parameterized; only the validated schema name is spliced in.
 *
 * URL, schema and failure behaviour: see postgres-database.ts. `healthy()`
 * answers one `SELECT 1` (for /readyz); `lastError` keeps the last failure.
 */
import { AuthzError } from '../core/errors.js';
import { PostgresDatabase, type PostgresDatabaseOptions } from './postgres-database.js';
import { PostgresLockoutStore, type PostgresLockoutOptions } from './lockout-postgres.js';
import type { UserRecord, UsersStore } from './users-store.js';
import { normalize, recordProblem, usernameProblem } from './users-yaml.js';

interface UserRow {
  username: string;
  password_hash: string;
  admin: boolean | null;
  tenant: string | null;
  groups: string[] | null;
}

export class PostgresUsersStore implements UsersStore {
  readonly #db: PostgresDatabase;
  readonly #table: string;

  constructor(url: string, options: PostgresDatabaseOptions = {}) {
    this.#db = new PostgresDatabase(url, options);
    this.#table = `${this.#db.schema}.kestra_authz_users`;
  }

  /** host:port/database, for messages and logs (no credentials). */
  get target(): string {
    return this.#db.target;
  }

  /** The last failure, cleared by the next success. */
  get lastError(): AuthzError | undefined {
    return this.#db.lastError;
  }

  /** True when PostgreSQL answers and the schema is migrated; never throws. */
  healthy(): Promise<boolean> {
    return this.#db.probe();
  }

  /** Creates or brings the schema up to date now rather than at the first query. */
  migrate(): Promise<void> {
    return this.#db.migrated();
  }

  /** Lockout state in the same database, shared by every replica; it lives as long as this store. */
  sharedLockout(options: PostgresLockoutOptions): PostgresLockoutStore {
    return new PostgresLockoutStore(this.#db, options);
  }

  async get(username: string): Promise<UserRecord | undefined> {
    if (typeof username !== 'string' || usernameProblem(username)) return undefined;
    const { rows } = await this.#db.query<UserRow>('get',
      `SELECT username, password_hash, admin, tenant, groups FROM ${this.#table} WHERE username = $1`, [username]);
    return rows[0] ? toRecord(rows[0]) : undefined;
  }

  async list(): Promise<UserRecord[]> {
    const { rows } = await this.#db.query<UserRow>('list',
      `SELECT username, password_hash, admin, tenant, groups FROM ${this.#table} ORDER BY username`);
    return rows.map(toRecord);
  }

  async create(user: UserRecord, options: { ifNotExists?: boolean } = {}): Promise<boolean> {
    const record = normalize(user);
    const problem = recordProblem(record);
    if (problem) throw new AuthzError('ERR_USERS_STORE', `cannot store user: ${problem}`);
    // ON CONFLICT rather than catching a unique violation: "exists" is an answer, not an error.
    const { rowCount } = await this.#db.query('create',
      `INSERT INTO ${this.#table} (username, password_hash, admin, tenant, groups)
       VALUES ($1, $2, $3, $4, $5) ON CONFLICT (username) DO NOTHING`,
      [record.username, record.passwordHash, record.admin, record.tenant ?? null, [...record.groups]]);
    if (rowCount === 1) return true;
    if (options.ifNotExists) return false;
    throw new AuthzError('ERR_USER_EXISTS', `user "${record.username}" already exists`);
  }

  async delete(username: string): Promise<void> {
    if (typeof username !== 'string' || usernameProblem(username)) throw notFound(username);
    const { rowCount } = await this.#db.query('delete', `DELETE FROM ${this.#table} WHERE username = $1`, [username]);
    if (rowCount === 0) throw notFound(username);
  }

  async setPasswordHash(username: string, passwordHash: string): Promise<void> {
    if (typeof passwordHash !== 'string' || passwordHash === '') throw new AuthzError('ERR_USERS_STORE', 'cannot store an empty password hash');
    if (typeof username !== 'string' || usernameProblem(username)) throw notFound(username);
    const { rowCount } = await this.#db.query('set_password',
      `UPDATE ${this.#table} SET password_hash = $2, updated_at = now() WHERE username = $1`, [username, passwordHash]);
    if (rowCount === 0) throw notFound(username);
  }

  /** Ends the pool (the CLI can exit); later calls throw ERR_USERS_STORE. */
  close(): Promise<void> {
    return this.#db.close();
  }
}

function toRecord(row: UserRow): UserRecord {
  const record = normalize({
    username: row.username,
    passwordHash: row.password_hash,
    admin: row.admin === true,
    ...(row.tenant !== null ? { tenant: row.tenant } : {}),
    groups: row.groups ?? [],
  });
  const problem = recordProblem(record);
  // The name is not repeated: a hand-edited row may hold anything.
  if (problem) throw new AuthzError('ERR_USERS_STORE', `invalid row in kestra_authz_users: ${problem}`);
  return record;
}

function notFound(username: string): AuthzError {
  return new AuthzError('ERR_USER_NOT_FOUND', `user "${String(username)}" does not exist`);
}
