/**
 * One PostgreSQL database as the stores see it: a `pg` Pool, the schema the
 * tables live in, migrations run once before the first query, and every
 * failure turned into AuthzError ERR_USERS_STORE with a metric.
 *
 * URL: `postgres://user:password@host:port/database?schema=name` — every
 * parameter `pg` understands (sslmode, application_name, options…) is passed
 * through; `schema` is ours and is removed first. Tables are always named
 * with their schema (`"name".kestra_authz_users`), so `search_path` plays no
 * part and a schema is created when missing. Default schema: `public`.
 *
 * Failure behaviour: a query that fails (server down, timeout) rejects with
 * ERR_USERS_STORE, counted in `kestra_authz_store_errors_total{store="postgres",op}`.
 * The pool drops broken connections and opens new ones on the next query, so
 * the store recovers by itself; migrations that failed are retried then too.
 * An idle connection dying (server restart) is recorded, never a crash.
 * Messages name the server (host:port/database) and the error code, never
 * the URL (it can hold a password) nor the server's message text (it can
 * quote values).
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
import { AuthzError } from '../core/errors.js';
import { storeErrorsTotal } from '../observability/store-metrics.js';
import { migrate } from './postgres-migrations.js';

export interface PostgresDatabaseOptions {
  /** Pool size (default 10). */
  readonly maxConnections?: number;
  /** Time to open a connection before giving up, ms (default 5000). */
  readonly connectTimeoutMs?: number;
  /** Time a query may take, ms, client side, so a hung server cannot hang a Check (default 10 000). */
  readonly queryTimeoutMs?: number;
}

/** Fixed words for the `op` metric label. */
export type PostgresOp =
  | 'migrate' | 'probe' | 'idle'
  | 'get' | 'list' | 'create' | 'delete' | 'set_password'
  | 'lockout_check' | 'lockout_failure' | 'lockout_success' | 'lockout_purge'
  | 'lockout_reserve' | 'lockout_confirm' | 'lockout_release';

export interface QueryRows<R> {
  readonly rows: R[];
  readonly rowCount: number;
}

// An unquoted-style identifier: nothing to escape, the same on every replica and in psql.
const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

export class PostgresDatabase {
  /** `"schema"`, ready to prefix a table name. */
  readonly schema: string;
  /** host:port/database, for messages (never credentials). */
  readonly target: string;
  readonly #pool: pg.Pool;
  readonly #schemaName: string;
  #migrated: Promise<void> | undefined;
  #lastError: AuthzError | undefined;
  #closed = false;

  constructor(url: string, options: PostgresDatabaseOptions = {}) {
    const { connectionString, schemaName, target } = parsePostgresUrl(url);
    this.#schemaName = schemaName;
    this.schema = `"${schemaName}"`;
    this.target = target;
    this.#pool = new pg.Pool({
      connectionString,
      max: options.maxConnections ?? 10,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
      query_timeout: options.queryTimeoutMs ?? 10_000,
      idleTimeoutMillis: 30_000,
      keepAlive: true,
      fallback_application_name: 'kestra-authz',
    });
    // Without a listener an idle connection dying (server restart) would crash the process.
    this.#pool.on('error', (err) => { this.#fail('idle', err); });
  }

  /** The last failure, cleared by the next success; for readiness and diagnostics. */
  get lastError(): AuthzError | undefined {
    return this.#lastError;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Runs one parameterized statement, after the migrations. */
  async query<R extends object>(op: PostgresOp, sql: string, params: readonly unknown[] = []): Promise<QueryRows<R>> {
    if (this.#closed) throw new AuthzError('ERR_USERS_STORE', 'PostgreSQL users store is closed');
    await this.migrated();
    try {
      const result = await this.#pool.query<R>(sql, params as unknown[]);
      this.#lastError = undefined;
      return { rows: result.rows, rowCount: result.rowCount ?? 0 };
    } catch (err) {
      throw this.#fail(op, err);
    }
  }

  /** Resolves once the schema is at the latest version; a failed attempt is retried by the next caller. */
  migrated(): Promise<void> {
    this.#migrated ??= this.#migrate().catch((err: unknown) => {
      this.#migrated = undefined;
      throw err;
    });
    return this.#migrated;
  }

  /** True when the server answers and the schema is migrated; never throws (for /readyz). */
  async probe(): Promise<boolean> {
    try {
      await this.query('probe', 'SELECT 1');
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#migrated?.catch(() => undefined);
    await this.#pool.end();
  }

  async #migrate(): Promise<void> {
    let client: pg.PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (err) {
      throw this.#fail('migrate', err);
    }
    let broken: unknown;
    try {
      await migrate(client, this.#schemaName, advisoryLockKey(this.#schemaName));
      this.#lastError = undefined;
    } catch (err) {
      broken = err;
      throw this.#fail('migrate', err);
    } finally {
      // A connection that failed mid-transaction is not handed to anyone else.
      client.release(broken instanceof Error ? broken : undefined);
    }
  }

  #fail(op: PostgresOp, err: unknown): AuthzError {
    storeErrorsTotal.labels('postgres', op).inc();
    const error = err instanceof AuthzError
      ? err
      : new AuthzError('ERR_USERS_STORE', `PostgreSQL users store at ${this.target}: ${op} failed (${errorCode(err)})`, { cause: err });
    this.#lastError = error;
    return error;
  }
}

/** Splits our `schema` parameter from the URL `pg` receives; validates it once, at start-up. */
export function parsePostgresUrl(url: string): { connectionString: string; schemaName: string; target: string } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new AuthzError('ERR_USERS_STORE', 'authz.users.url is not a valid postgres:// URL');
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new AuthzError('ERR_USERS_STORE', 'authz.users.url must start with postgres:// or postgresql://');
  }
  const schemas = parsed.searchParams.getAll('schema');
  if (schemas.length > 1) throw new AuthzError('ERR_USERS_STORE', 'authz.users.url: give the schema parameter once');
  const schemaName = schemas[0] ?? 'public';
  if (!SCHEMA_NAME.test(schemaName)) {
    throw new AuthzError('ERR_USERS_STORE', 'authz.users.url: schema must be 1 to 63 letters, digits or _, not starting with a digit');
  }
  parsed.searchParams.delete('schema');
  const host = parsed.hostname || parsed.searchParams.get('host') || 'localhost';
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, '')) || '(default database)';
  return { connectionString: parsed.toString(), schemaName, target: `${host}:${parsed.port || '5432'}/${database}` };
}

/** Two int4 keys for pg_advisory_xact_lock: a fixed class, and the schema, so schemas migrate independently. */
function advisoryLockKey(schemaName: string): readonly [number, number] {
  return [0x4b41_5a31, createHash('sha256').update(schemaName).digest().readInt32BE(0)];
}

/** A short, safe description: the SQLSTATE or Node error code, never the message text. */
function errorCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  // pg's own connection and query timeouts carry no code.
  return typeof code === 'string' && /^[A-Z0-9_]{2,40}$/.test(code) ? code : 'connection error or timeout';
}
