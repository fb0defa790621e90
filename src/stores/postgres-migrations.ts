/**
 * Versioned schema migrations of the PostgreSQL stores.
 *
 * - MIGRATIONS is append-only: a released migration is never edited, a change
 *   is a new version. Each runs once per schema, recorded in
 *   `kestra_authz_schema_migrations(version, applied_at)`.
 * - Everything runs in one transaction under `pg_advisory_xact_lock`, so two
 *   replicas starting together take turns: the second finds the work done.
 *   A failure rolls the whole run back; the next start tries again.
 * - A schema newer than this build (a newer replica migrated it) is left
 *   alone: migrations only add, so older code keeps working during a rollout.
 *
 * The SQL names tables through `{schema}`, replaced by the quoted schema name
 * (validated in postgres-database.ts); there are no values in it.
 */
import type pg from 'pg';

export interface Migration {
  readonly version: number;
  readonly description: string;
  readonly sql: string;
}

export const MIGRATIONS: readonly Migration[] = Object.freeze([
  {
    version: 1,
    description: 'local users (Basic auth, `auths users` CLI)',
    sql: `
      CREATE TABLE {schema}.kestra_authz_users (
        username      text PRIMARY KEY,
        password_hash text NOT NULL,
        admin         boolean NOT NULL DEFAULT false,
        tenant        text NULL,
        groups        text[] NOT NULL DEFAULT '{}',
        created_at    timestamptz NOT NULL DEFAULT now(),
        updated_at    timestamptz NOT NULL DEFAULT now()
      )`,
  },
  {
    version: 2,
    description: 'brute-force lockout state shared by every replica',
    sql: `
      CREATE TABLE {schema}.kestra_authz_login_failures (
        key            text PRIMARY KEY,
        failures       integer NOT NULL,
        window_started timestamptz NOT NULL,
        locked_until   timestamptz NULL
      );
      CREATE INDEX kestra_authz_login_failures_window ON {schema}.kestra_authz_login_failures (window_started)`,
  },
]);

/** The version a fully migrated schema is at. */
export const LATEST_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/**
 * Brings `schemaName` to LATEST_VERSION on `client` (a connection of its own:
 * the transaction and the lock are tied to it). Returns the versions applied.
 */
export async function migrate(client: pg.ClientBase, schemaName: string, lockKey: readonly [number, number]): Promise<number[]> {
  const S = `"${schemaName}"`;
  const applied: number[] = [];
  await client.query('BEGIN');
  try {
    // Waiting for another replica's migrations is expected; give it time, but not forever.
    await client.query("SET LOCAL lock_timeout = '60s'");
    await client.query("SET LOCAL statement_timeout = '120s'");
    await client.query('SELECT pg_advisory_xact_lock($1::int4, $2::int4)', [lockKey[0], lockKey[1]]);
    // Checked first: CREATE SCHEMA IF NOT EXISTS needs the CREATE right even when the schema exists.
    const exists = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schemaName]);
    if (exists.rowCount === 0) await client.query(`CREATE SCHEMA ${S}`);
    await client.query(`
      CREATE TABLE IF NOT EXISTS ${S}.kestra_authz_schema_migrations (
        version    integer PRIMARY KEY,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
    const done = await client.query<{ version: number }>(`SELECT version FROM ${S}.kestra_authz_schema_migrations`);
    const have = new Set(done.rows.map((row) => row.version));
    for (const migration of MIGRATIONS) {
      if (have.has(migration.version)) continue;
      await client.query(migration.sql.replaceAll('{schema}', S));
      await client.query(`INSERT INTO ${S}.kestra_authz_schema_migrations (version) VALUES ($1)`, [migration.version]);
      applied.push(migration.version);
    }
    await client.query('COMMIT');
    return applied;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
