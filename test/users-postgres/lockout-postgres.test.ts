/**
 * Lockout shared through PostgreSQL: two BasicAuthenticators with stores of
 * their own (two pools, as two replicas would have) count the same failures;
 * concurrent failures start exactly one lock; the window, the lock end and a
 * success behave like the in-memory tracker; the database being unreachable
 * is store_unavailable, never a skipped lock check.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AuthnResult } from '../../src/authn/authenticator.js';
import { BasicAuthenticator } from '../../src/authn/basic-auth.js';
import { LockoutTracker } from '../../src/authn/lockout.js';
import { hashPassword } from '../../src/authn/password-hash.js';
import { createAuthRequest } from '../../src/core/auth-request.js';
import { openLockoutStore } from '../../src/stores/open-lockout-store.js';
import { FileUsersStore } from '../../src/stores/users-file.js';
import { PostgresLockoutStore } from '../../src/stores/lockout-postgres.js';
import { PostgresUsersStore } from '../../src/stores/users-postgres.js';
import { adminQuery, counterValue, dropSchema, newSchemaName, postgresSkipReason, startPostgresRelay, storeUrl } from './pg-fixture.js';

const skip = await postgresSkipReason();
const basic = (user: string, password: string) => createAuthRequest({
  method: 'GET', path: '/api/v1/main/flows', headers: { authorization: `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}` },
})!;
const reasonOf = (r: AuthnResult) => (r.kind === 'fail' ? r.reason : r.kind);
const LOCKOUTS = 'kestra_authz_basic_auth_lockouts_total';
const SETTINGS = { threshold: 3, windowSeconds: 300, lockSeconds: 1800 };

describe('shared lockout in PostgreSQL', { skip }, () => {
  const schema = newSchemaName();
  let replicaA: PostgresUsersStore;
  let replicaB: PostgresUsersStore;
  let clock = Date.parse('2030-01-01T00:00:00Z');
  const now = () => clock;
  const authenticator = (store: PostgresUsersStore) =>
    new BasicAuthenticator({ store, lockout: store.sharedLockout({ ...SETTINGS, now }), enabled: true });

  before(async () => {
    replicaA = new PostgresUsersStore(storeUrl(schema));
    replicaB = new PostgresUsersStore(storeUrl(schema));
    await replicaA.create({ username: 'ops', passwordHash: await hashPassword('correct-horse-1'), admin: false, groups: [] });
    await replicaA.create({ username: 'dev', passwordHash: await hashPassword('dev-pass-123'), admin: false, groups: [] });
  });
  after(async () => {
    await replicaA?.close();
    await replicaB?.close();
    await dropSchema(schema);
  });

  test('openLockoutStore: PostgreSQL users share their lockout; a users file keeps it in memory', async () => {
    assert.ok(openLockoutStore(SETTINGS, replicaA) instanceof PostgresLockoutStore);
    const file = new FileUsersStore('/nonexistent/users.yaml');
    assert.ok(openLockoutStore(SETTINGS, file) instanceof LockoutTracker);
    await file.close();
  });

  test('failures on two replicas add up: the threshold is global, and the lock is seen by both', async () => {
    const a = authenticator(replicaA);
    const b = authenticator(replicaB);
    const before = await counterValue(LOCKOUTS);
    assert.equal(reasonOf(await a.authenticate(basic('ops', 'wrong-1'))), 'basic_bad_credentials');
    assert.equal(reasonOf(await b.authenticate(basic('ops', 'wrong-2'))), 'basic_bad_credentials');
    assert.equal(reasonOf(await a.authenticate(basic('ops', 'wrong-3'))), 'basic_bad_credentials');
    // Locked everywhere, even with the right password (a lock is no password oracle).
    assert.equal(reasonOf(await b.authenticate(basic('ops', 'correct-horse-1'))), 'basic_locked_out');
    assert.equal(reasonOf(await a.authenticate(basic('ops', 'correct-horse-1'))), 'basic_locked_out');
    assert.equal(await counterValue(LOCKOUTS), before + 1, 'one lock, counted once');
    // Another user is not affected.
    assert.equal(reasonOf(await b.authenticate(basic('dev', 'dev-pass-123'))), 'ok');
    // The lock ends after lock-duration (database rows compared with the injected clock).
    clock += 1800 * 1000;
    assert.equal(reasonOf(await b.authenticate(basic('ops', 'correct-horse-1'))), 'ok');
  });

  test('20 concurrent failures over two replicas with threshold 5: exactly one starts the lock', async () => {
    const lockA = replicaA.sharedLockout({ threshold: 5, windowSeconds: 300, lockSeconds: 60, now });
    const lockB = replicaB.sharedLockout({ threshold: 5, windowSeconds: 300, lockSeconds: 60, now });
    const before = await counterValue(LOCKOUTS);
    const started = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? lockA : lockB).recordFailure('burst')));
    assert.equal(started.filter(Boolean).length, 1);
    assert.equal(await counterValue(LOCKOUTS), before + 1);
    assert.equal(await lockB.isLocked('burst'), true);
    const [row] = await adminQuery<{ failures: number }>(`SELECT failures FROM "${schema}".kestra_authz_login_failures WHERE key = 'burst'`);
    assert.equal(row?.failures, 5, 'failures during the lock are not counted');
  });

  test('100 concurrent reservations over two replicas with threshold 3: exactly 3 granted, then one lock', async () => {
    const key = 'reserve-race';
    const stores = [replicaA.sharedLockout({ ...SETTINGS, now }), replicaB.sharedLockout({ ...SETTINGS, now })];
    const granted = (await Promise.all(Array.from({ length: 100 }, (_, i) => stores[i % 2]!.reserve(key)))).filter(Boolean).length;
    assert.equal(granted, 3);
    assert.equal(await stores[0]!.isLocked(key), false, 'no lock before a failure is confirmed');
    const started = await Promise.all([stores[0]!.confirmFailure(key), stores[1]!.confirmFailure(key), stores[0]!.confirmFailure(key)]);
    assert.equal(started.filter(Boolean).length, 1);
    assert.equal(await stores[1]!.isLocked(key), true);
    assert.equal(await stores[1]!.reserve(key), false);
    // A released slot is given back (before any lock).
    const other = 'reserve-release';
    for (let i = 0; i < 3; i++) assert.equal(await stores[i % 2]!.reserve(other), true);
    assert.equal(await stores[0]!.reserve(other), false);
    await stores[1]!.release(other);
    assert.equal(await stores[0]!.reserve(other), true);
  });

  test('the window restarts after it runs out; a success clears the count', async () => {
    const lock = replicaB.sharedLockout({ ...SETTINGS, now });
    assert.equal(await lock.recordFailure('win'), false);
    assert.equal(await lock.recordFailure('win'), false);
    clock += 300 * 1000; // the window is over: counting starts again
    assert.equal(await lock.recordFailure('win'), false);
    assert.equal(await lock.recordFailure('win'), false);
    assert.equal(await lock.isLocked('win'), false);
    await lock.recordSuccess('win');
    assert.equal(await lock.recordFailure('win'), false);
    assert.equal(await lock.recordFailure('win'), false);
    assert.equal(await lock.recordFailure('win'), true);
    assert.equal(await lock.isLocked('win'), true);
    await lock.recordSuccess('win'); // a success never lifts a lock
    assert.equal(await lock.isLocked('win'), true);
  });

  test('keys PostgreSQL text cannot hold are stored hashed, and still lock', async () => {
    const lock = replicaA.sharedLockout({ threshold: 1, windowSeconds: 300, lockSeconds: 60, now });
    assert.equal(await lock.recordFailure('nul\u0000name'), true);
    assert.equal(await lock.isLocked('nul\u0000name'), true);
    assert.equal(await lock.isLocked('nul'), false);
    assert.equal(await lock.recordFailure('y'.repeat(5000)), true);
    const rows = await adminQuery<{ key: string }>(`SELECT key FROM "${schema}".kestra_authz_login_failures WHERE key LIKE 'sha256:%'`);
    assert.equal(rows.length, 2);
  });

  test('lock-duration 0 counts but never locks', async () => {
    const lock = replicaA.sharedLockout({ threshold: 1, windowSeconds: 300, lockSeconds: 0, now });
    assert.equal(await lock.recordFailure('never'), false);
    assert.equal(await lock.recordFailure('never'), false);
    assert.equal(await lock.isLocked('never'), false);
  });

  test('bad options are refused at construction, naming the option', () => {
    assert.throws(() => replicaA.sharedLockout({ threshold: 0, windowSeconds: 1, lockSeconds: 1 }), /"threshold"/);
    assert.throws(() => replicaA.sharedLockout({ threshold: 1, windowSeconds: 0, lockSeconds: 1 }), /"windowSeconds"/);
  });
});

describe('shared lockout when PostgreSQL is unreachable', { skip }, () => {
  const schema = newSchemaName();
  after(async () => { await dropSchema(schema); });

  test('a server nobody listens on: store_unavailable for every answer, a clear error, no crash', async () => {
    const store = new PostgresUsersStore('postgres://postgres:s3cret@127.0.0.1:1/test?schema=' + schema);
    try {
      const auth = new BasicAuthenticator({ store, lockout: store.sharedLockout(SETTINGS), enabled: true });
      assert.equal(reasonOf(await auth.authenticate(basic('ops', 'correct-horse-1'))), 'store_unavailable');
      assert.equal(reasonOf(await auth.authenticate(basic('ops', 'wrong'))), 'store_unavailable');
      await assert.rejects(store.get('ops'), (err: unknown) => err instanceof Error && 'code' in err && err.code === 'ERR_USERS_STORE'
        && /127\.0\.0\.1:1\/test: migrate failed \(ECONNREFUSED\)/.test(err.message) && !err.message.includes('s3cret'));
      assert.equal(await store.healthy(), false);
    } finally {
      await store.close();
    }
  });

  test('the lock check failing is store_unavailable, never an allow; it recovers by itself', async () => {
    const relay = await startPostgresRelay();
    const store = new PostgresUsersStore(storeUrl(schema, relay.hostPort), { connectTimeoutMs: 2000 });
    try {
      await store.create({ username: 'ops', passwordHash: await hashPassword('correct-horse-1'), admin: false, groups: [] });
      const auth = new BasicAuthenticator({ store, lockout: store.sharedLockout(SETTINGS), enabled: true });
      assert.equal(reasonOf(await auth.authenticate(basic('ops', 'correct-horse-1'))), 'ok');
      const errorsBefore = await counterValue('kestra_authz_store_errors_total', { store: 'postgres', op: 'lockout_check' });
      await relay.cut();
      // The verification is cached, but the lock check must still be answered: 503, not ok.
      assert.equal(reasonOf(await auth.authenticate(basic('ops', 'correct-horse-1'))), 'store_unavailable');
      assert.equal(reasonOf(await auth.authenticate(basic('ops', 'wrong'))), 'store_unavailable');
      assert.ok(await counterValue('kestra_authz_store_errors_total', { store: 'postgres', op: 'lockout_check' }) > errorsBefore);
      assert.equal(await store.healthy(), false);
      assert.equal(store.lastError?.code, 'ERR_USERS_STORE');
      await relay.restore();
      assert.equal(await store.healthy(), true);
      assert.equal(store.lastError, undefined);
      assert.equal(reasonOf(await auth.authenticate(basic('ops', 'correct-horse-1'))), 'ok');
    } finally {
      await store.close();
      await relay.close();
    }
  });
});
