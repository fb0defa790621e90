/**
 * PostgresUsersStore against the real PostgreSQL: versioned migrations (run
 * twice, run by two stores at once, an older schema brought forward, a newer
 * one left alone), CRUD with the UsersStore contract's errors, rows edited by
 * hand, and the URL's schema parameter.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AuthzError } from '../../src/core/errors.js';
import { LATEST_VERSION, MIGRATIONS } from '../../src/stores/postgres-migrations.js';
import { parsePostgresUrl } from '../../src/stores/postgres-database.js';
import { PostgresUsersStore } from '../../src/stores/users-postgres.js';
import type { UserRecord } from '../../src/stores/users-store.js';
import { adminQuery, dropSchema, newSchemaName, postgresSkipReason, storeUrl } from './pg-fixture.js';

const skip = await postgresSkipReason();
const hasCode = (code: string) => (err: unknown) => err instanceof AuthzError && err.code === code;
const user = (username: string, extra: Partial<UserRecord> = {}): UserRecord =>
  ({ username, passwordHash: `scrypt$test$${username}`, admin: false, groups: [], ...extra });
const versions = async (schema: string) =>
  (await adminQuery<{ version: number }>(`SELECT version FROM "${schema}".kestra_authz_schema_migrations ORDER BY version`)).map((r) => r.version);

describe('PostgreSQL URL and schema parameter', () => {
  test('schema is taken out of the URL pg sees; other parameters pass through', () => {
    const parsed = parsePostgresUrl('postgres://u:s3cret@db.internal:6543/kestra?schema=authz&sslmode=require');
    assert.equal(parsed.schemaName, 'authz');
    assert.equal(parsed.target, 'db.internal:6543/kestra');
    assert.ok(!parsed.connectionString.includes('schema='));
    assert.match(parsed.connectionString, /sslmode=require/);
    assert.equal(parsePostgresUrl('postgresql://db/kestra').schemaName, 'public');
  });

  test('a bad schema or URL is a clear ERR_USERS_STORE without the password', () => {
    for (const url of ['postgres://u:s3cret@db/x?schema=a-b', 'postgres://u:s3cret@db/x?schema="x"', 'postgres://u:s3cret@db/x?schema=a&schema=b',
      'postgres://u:s3cret@db/x?schema=' + 'a'.repeat(64), 'mysql://u:s3cret@db/x', 'not a url s3cret']) {
      assert.throws(() => parsePostgresUrl(url), (err: unknown) => hasCode('ERR_USERS_STORE')(err) && !(err as Error).message.includes('s3cret'), url);
    }
  });
});

describe('PostgresUsersStore', { skip }, () => {
  const schema = newSchemaName();
  let store: PostgresUsersStore;

  before(() => { store = new PostgresUsersStore(storeUrl(schema)); });
  after(async () => {
    await store?.close();
    await dropSchema(schema);
  });

  test('the first query creates the schema and applies every migration, once', async () => {
    assert.deepEqual(await store.list(), []);
    assert.deepEqual(await versions(schema), MIGRATIONS.map((m) => m.version));
    assert.equal(LATEST_VERSION, 2);
    // Running again (another store, same schema) changes nothing.
    const again = new PostgresUsersStore(storeUrl(schema));
    await again.migrate();
    await again.close();
    assert.deepEqual(await versions(schema), [1, 2]);
    const tables = await adminQuery<{ table_name: string }>(
      'SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name', [schema]);
    assert.deepEqual(tables.map((t) => t.table_name), ['kestra_authz_login_failures', 'kestra_authz_schema_migrations', 'kestra_authz_users']);
  });

  test('create, get, list, set-password, delete', async () => {
    assert.equal(await store.create(user('ops', { groups: ['a', 'b', 'a'], tenant: 'acme' })), true);
    assert.equal(await store.create(user('root', { admin: true })), true);
    assert.deepEqual(await store.get('ops'), { username: 'ops', passwordHash: 'scrypt$test$ops', admin: false, tenant: 'acme', groups: ['a', 'b'] });
    assert.deepEqual(await store.get('root'), { username: 'root', passwordHash: 'scrypt$test$root', admin: true, groups: [] });
    assert.equal(await store.get('nobody'), undefined);
    assert.deepEqual((await store.list()).map((u) => u.username), ['ops', 'root']);

    await assert.rejects(store.create(user('ops')), hasCode('ERR_USER_EXISTS'));
    assert.equal(await store.create(user('ops', { passwordHash: 'other' }), { ifNotExists: true }), false);
    assert.equal((await store.get('ops'))?.passwordHash, 'scrypt$test$ops', 'if-not-exists changes nothing');

    await store.setPasswordHash('ops', 'scrypt$new');
    assert.equal((await store.get('ops'))?.passwordHash, 'scrypt$new');
    const [row] = await adminQuery<{ changed: boolean }>(`SELECT updated_at > created_at AS changed FROM "${schema}".kestra_authz_users WHERE username = 'ops'`);
    assert.equal(row?.changed, true);
    await assert.rejects(store.setPasswordHash('nobody', 'x'), hasCode('ERR_USER_NOT_FOUND'));
    await assert.rejects(store.setPasswordHash('ops', ''), hasCode('ERR_USERS_STORE'));

    await store.delete('root');
    assert.equal(await store.get('root'), undefined);
    await assert.rejects(store.delete('root'), hasCode('ERR_USER_NOT_FOUND'));
  });

  test('names are data, never SQL; names no store may hold are refused or simply unknown', async () => {
    const odd = "o'brien\"; DROP TABLE kestra_authz_users; --";
    assert.equal(await store.create(user(odd, { groups: ['x"y'] })), true);
    assert.deepEqual((await store.get(odd))?.groups, ['x"y']);
    await store.delete(odd);
    await assert.rejects(store.create(user('a:b')), hasCode('ERR_USERS_STORE'));
    await assert.rejects(store.create(user('ok', { groups: ['a,b'] })), hasCode('ERR_USERS_STORE'));
    await assert.rejects(store.create(user('ok', { passwordHash: '' })), hasCode('ERR_USERS_STORE'));
    // PostgreSQL text cannot hold NUL: such a name is "no such user", not a database error.
    assert.equal(await store.get('ops\u0000'), undefined);
    assert.equal(await store.get('x'.repeat(5000)), undefined);
    await assert.rejects(store.delete('a\u0000'), hasCode('ERR_USER_NOT_FOUND'));
    assert.equal(await store.healthy(), true);
  });

  test('a row edited by hand into something invalid fails closed, naming no password', async () => {
    await adminQuery(`INSERT INTO "${schema}".kestra_authz_users (username, password_hash, groups) VALUES ('broken', 'scrypt$x', ARRAY['a,b'])`);
    await assert.rejects(store.get('broken'), (err: unknown) => hasCode('ERR_USERS_STORE')(err) && /invalid row/.test((err as Error).message));
    await assert.rejects(store.list(), hasCode('ERR_USERS_STORE'));
    await adminQuery(`DELETE FROM "${schema}".kestra_authz_users WHERE username = 'broken'`);
    assert.ok(await store.list());
  });

  test('a closed store refuses calls with ERR_USERS_STORE', async () => {
    const closing = new PostgresUsersStore(storeUrl(schema));
    await closing.list();
    await closing.close();
    await closing.close();
    await assert.rejects(closing.get('ops'), hasCode('ERR_USERS_STORE'));
  });
});

describe('PostgreSQL migrations are versioned', { skip }, () => {
  const schemas: string[] = [];
  after(async () => { for (const s of schemas) await dropSchema(s); });

  test('two stores migrating a fresh schema at the same time: both succeed, each version applied once', async () => {
    const schema = newSchemaName();
    schemas.push(schema);
    const stores = Array.from({ length: 4 }, () => new PostgresUsersStore(storeUrl(schema)));
    try {
      await Promise.all(stores.map((s) => s.migrate()));
      await Promise.all(stores.map((s, i) => s.create(user(`u${i}`))));
      assert.equal((await stores[0]!.list()).length, 4);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
    assert.deepEqual(await versions(schema), [1, 2]);
  });

  test('a schema left at version 1 by an older build gets only version 2; its users stay', async () => {
    const schema = newSchemaName();
    schemas.push(schema);
    await adminQuery(`CREATE SCHEMA "${schema}"`);
    await adminQuery(`CREATE TABLE "${schema}".kestra_authz_schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`);
    await adminQuery(MIGRATIONS[0]!.sql.replaceAll('{schema}', `"${schema}"`));
    await adminQuery(`INSERT INTO "${schema}".kestra_authz_schema_migrations (version, applied_at) VALUES (1, now() - interval '1 day')`);
    await adminQuery(`INSERT INTO "${schema}".kestra_authz_users (username, password_hash) VALUES ('old', 'scrypt$old')`);
    const store = new PostgresUsersStore(storeUrl(schema));
    try {
      assert.equal((await store.get('old'))?.passwordHash, 'scrypt$old');
    } finally {
      await store.close();
    }
    const rows = await adminQuery<{ version: number; recent: boolean }>(
      `SELECT version, applied_at > now() - interval '1 hour' AS recent FROM "${schema}".kestra_authz_schema_migrations ORDER BY version`);
    assert.deepEqual(rows, [{ version: 1, recent: false }, { version: 2, recent: true }]);
  });

  test('a schema already newer than this build is used as is', async () => {
    const schema = newSchemaName();
    schemas.push(schema);
    const first = new PostgresUsersStore(storeUrl(schema));
    await first.migrate();
    await first.close();
    await adminQuery(`INSERT INTO "${schema}".kestra_authz_schema_migrations (version) VALUES (99)`);
    const store = new PostgresUsersStore(storeUrl(schema));
    try {
      assert.equal(await store.create(user('new')), true);
    } finally {
      await store.close();
    }
    assert.deepEqual(await versions(schema), [1, 2, 99]);
  });
});
