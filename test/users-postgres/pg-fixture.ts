/**
 * The real PostgreSQL of this machine (127.0.0.1:5432, user postgres, trust
 * auth, database `test`) for the users-postgres tests: each test file works
 * in a schema of its own, `kauthz_test_<random>`, dropped at the end.
 *
 * When the server cannot be reached the tests are skipped with a message —
 * except in CI (CI=true), where that is a failure.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket, connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { registry } from '../../src/observability/metrics.js';

export const PG_HOST = process.env.KAUTHZ_TEST_PG_HOST ?? '127.0.0.1';
export const PG_PORT = Number(process.env.KAUTHZ_TEST_PG_PORT ?? 5432);
const ADMIN_URL = `postgres://postgres@${PG_HOST}:${PG_PORT}/test`;

/** undefined when PostgreSQL answers; otherwise the reason to skip. Throws in CI. */
export async function postgresSkipReason(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return undefined;
  } catch (err) {
    const why = `PostgreSQL at ${PG_HOST}:${PG_PORT}/test is unreachable (${(err as { code?: string }).code ?? 'error'}): users-postgres tests skipped`;
    if (process.env.CI === 'true') throw new Error(`${why} — not allowed in CI`);
    return why;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export function newSchemaName(): string {
  return `kauthz_test_${randomBytes(6).toString('hex')}`;
}

/** The store URL of `schema`, optionally through another host:port (a proxy). */
export function storeUrl(schema: string, hostPort = `${PG_HOST}:${PG_PORT}`): string {
  return `postgres://postgres@${hostPort}/test?schema=${schema}`;
}

/** One statement as the superuser, outside any store (to look at or break the tables). */
export async function adminQuery<R extends object = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    return (await client.query<R>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

export async function dropSchema(schema: string): Promise<void> {
  if (!/^kauthz_test_[0-9a-f]+$/.test(schema)) throw new Error('refusing to drop a schema that is not a test schema');
  await adminQuery(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
}

/** Value of a counter of the shared registry for the series with these labels (0 when absent). */
export async function counterValue(name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return 0;
  const { values } = await metric.get();
  return values.filter((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val))
    .reduce((sum, v) => sum + v.value, 0);
}

/**
 * A TCP relay in front of PostgreSQL that a test can cut and restore: the
 * honest way to make "the database went away" happen without stopping the
 * machine's server. `cut()` closes the listener and every relayed
 * connection; `restore()` listens again on the same port.
 */
export interface PostgresRelay {
  readonly hostPort: string;
  cut(): Promise<void>;
  restore(): Promise<void>;
  close(): Promise<void>;
}

export async function startPostgresRelay(): Promise<PostgresRelay> {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;
  const listen = async (): Promise<void> => {
    const s = createServer((inbound) => {
      const outbound = connect(PG_PORT, PG_HOST);
      sockets.add(inbound).add(outbound);
      const drop = () => { inbound.destroy(); outbound.destroy(); sockets.delete(inbound); sockets.delete(outbound); };
      inbound.on('error', drop).on('close', drop);
      outbound.on('error', drop).on('close', drop);
      inbound.pipe(outbound).pipe(inbound);
    });
    await new Promise<void>((resolve, reject) => s.once('error', reject).listen(port, '127.0.0.1', () => resolve()));
    port = (s.address() as AddressInfo).port;
    server = s;
  };
  const cut = async (): Promise<void> => {
    const s = server;
    server = undefined;
    for (const socket of sockets) socket.destroy();
    sockets.clear();
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  };
  await listen();
  return {
    hostPort: `127.0.0.1:${port}`,
    cut,
    restore: listen,
    close: cut,
  };
}
