/**
 * RedisSessionStore against the real Redis, in-process: two store instances
 * stand for two replicas (each with its own connections and cache).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import type { SessionRecord } from '../../src/authn/session-cookie.js';
import { newStoredSessionId } from '../../src/stores/session-id-cookies.js';
import { RedisSessionStore } from '../../src/stores/sessions-redis.js';
import { deriveStoredSessionKeys, type StoredSession } from '../../src/stores/stored-session.js';
import { SHARED_REDIS, deleteKeys, inspector, redisSkipReason, testPrefix } from './redis-fixture.js';

const skip = await redisSkipReason();
const keys = deriveStoredSessionKeys(new TextEncoder().encode('store-test-secret-0123456789abcdef-xyz'));

function session(subject: string, idpSid?: string): StoredSession {
  const record: SessionRecord = {
    sid: newStoredSessionId().slice(0, 22),
    provider: 'idp-a',
    subject,
    name: subject,
    groups: ['g'],
    expiresAt: Math.floor(Date.now() / 1000) + 3600,
  };
  return { record, refreshToken: `rt-${subject}`, idToken: undefined, idpSid };
}

/** Polls (bounded, 1 s) until `probe` is true. */
async function within1s(probe: () => Promise<boolean>): Promise<boolean> {
  for (let i = 0; i < 20; i++) {
    if (await probe()) return true;
    await sleep(50);
  }
  return probe();
}

describe('RedisSessionStore', { skip }, () => {
  const prefix = testPrefix();
  let redis: Redis;
  let one: RedisSessionStore;
  let two: RedisSessionStore;

  before(async () => {
    redis = inspector();
    one = new RedisSessionStore({ url: SHARED_REDIS, prefix, keys });
    two = new RedisSessionStore({ url: SHARED_REDIS, prefix, keys });
    assert.ok(await one.whenReady(5000));
    assert.ok(await two.whenReady(5000));
    await sleep(100); // subscriptions confirmed
  });

  after(async () => {
    await one?.close();
    await two?.close();
    await deleteKeys(redis, prefix);
    redis.disconnect();
  });

  test('a session is sealed for its own id only; TTL is its remaining lifetime', async () => {
    const id = newStoredSessionId();
    const s = session('ann');
    await one.create(id, s);
    assert.deepEqual((await two.get(id))?.record, { ...s.record, email: undefined, issuer: undefined, refreshAt: undefined });
    assert.equal((await two.get(id))?.refreshToken, 'rt-ann');
    const ttl = await redis.pttl(`${prefix}session:${id}`);
    assert.ok(ttl > 3_590_000 && ttl <= 3_600_000, String(ttl));
    // The same ciphertext copied under another id does not open.
    const other = newStoredSessionId();
    await redis.set(`${prefix}session:${other}`, (await redis.get(`${prefix}session:${id}`))!);
    assert.equal(await one.get(other), undefined);
    // Sealed under another secret: does not open either.
    const foreign = new RedisSessionStore({ url: SHARED_REDIS, prefix, keys: deriveStoredSessionKeys(new Uint8Array(32)), cacheTtlMs: 0 });
    try {
      assert.ok(await foreign.whenReady(5000));
      assert.equal(await foreign.get(id), undefined);
    } finally {
      await foreign.close();
    }
  });

  test('a replica-local cache entry is dropped everywhere by a delete on another replica', async () => {
    const id = newStoredSessionId();
    await one.create(id, session('bob'));
    assert.ok(await two.get(id));
    // Behind the stores' backs (no publish): `two` still answers from its cache — the cache is live.
    const sealed = (await redis.get(`${prefix}session:${id}`))!;
    await redis.del(`${prefix}session:${id}`);
    assert.ok(await two.get(id), 'answered from the cache');
    assert.equal(await two.get(id, { fresh: true }), undefined);
    await redis.set(`${prefix}session:${id}`, sealed);
    assert.ok(await two.get(id));
    await one.delete(id);
    assert.ok(await within1s(async () => (await two.get(id)) === undefined), 'revoked on the other replica within 1 s');
  });

  test('replace keeps the TTL and never resurrects an ended session', async () => {
    const id = newStoredSessionId();
    const s = session('cai');
    await one.create(id, s);
    await redis.pexpire(`${prefix}session:${id}`, 100_000);
    const renewed = { ...s, refreshToken: 'rt-2' };
    assert.equal(await two.replace(id, renewed), true);
    assert.equal((await one.get(id, { fresh: true }))?.refreshToken, 'rt-2');
    assert.ok((await redis.pttl(`${prefix}session:${id}`)) <= 100_000);
    await one.delete(id);
    assert.equal(await two.replace(id, renewed), false);
    assert.equal(await redis.exists(`${prefix}session:${id}`), 0);
  });

  test('revoke by IdP sid ends that session; with sub also the subject\'s sessions of unknown sid', async () => {
    const [withSid, otherSid, noSid, stranger] = [newStoredSessionId(), newStoredSessionId(), newStoredSessionId(), newStoredSessionId()];
    await one.create(withSid, session('dee', 'op-sid-1'));
    await one.create(otherSid, session('dee', 'op-sid-2'));
    await one.create(noSid, session('dee'));
    await one.create(stranger, session('eve'));
    for (const id of [withSid, otherSid, noSid, stranger]) assert.ok(await two.get(id));

    assert.equal(await two.revoke({ provider: 'idp-a', sid: 'op-sid-1' }), 1);
    assert.ok(await within1s(async () => (await one.get(withSid)) === undefined));
    assert.ok(await one.get(otherSid));
    assert.ok(await one.get(noSid), 'sid only: a session of unknown sid is not matched');

    assert.equal(await two.revoke({ provider: 'idp-a', sid: 'op-sid-9', sub: 'dee' }), 1);
    assert.ok(await within1s(async () => (await one.get(noSid)) === undefined));
    assert.ok(await one.get(otherSid), 'a session with another known sid lives on');

    assert.equal(await one.revoke({ provider: 'idp-a', sub: 'dee' }), 1);
    assert.ok(await within1s(async () => (await two.get(otherSid)) === undefined));
    assert.ok(await two.get(stranger));
    assert.equal(await one.revoke({ provider: 'idp-b', sub: 'eve' }), 0, 'another provider\'s subject is another person');
  });

  test('refresh lock: one holder at a time, released only by its holder; logout-token ids are single-use', async () => {
    const id = newStoredSessionId();
    const token = await one.tryLock(id);
    assert.ok(token);
    assert.equal(await two.tryLock(id), undefined);
    await two.unlock(id, 'not-the-token');
    assert.equal(await two.tryLock(id), undefined, 'a wrong token does not release it');
    const ttl = await redis.pttl(`${prefix}lock:refresh:${id}`);
    assert.ok(ttl > 0 && ttl <= 5000);
    await one.unlock(id, token);
    assert.ok(await two.tryLock(id));

    const until = Math.floor(Date.now() / 1000) + 60;
    assert.equal(await one.rememberLogoutToken('idp-a', 'jti-1', until), true);
    assert.equal(await two.rememberLogoutToken('idp-a', 'jti-1', until), false);
    assert.equal(await two.rememberLogoutToken('idp-b', 'jti-1', until), true);
  });
});
