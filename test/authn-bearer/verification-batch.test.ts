/**
 * First verifications run together once per turn of the event loop
 * (verification-batch.ts), and a token presented again before its
 * verification has ended waits for that one verification instead of starting
 * another — the same verdict for every request, valid or forged.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { VerificationBatch, firstVerifications } from '../../src/authn/verification-batch.js';
import { bearer, reasonOf, startBearerFixture, type BearerFixture } from './bearer-fixture.js';

describe('VerificationBatch', () => {
  test('jobs of one turn run together after it, in order; one that throws rejects only its own promise', async () => {
    const batch = new VerificationBatch();
    const ran: number[] = [];
    const first = batch.run(() => { ran.push(1); return 'one'; });
    const failing = batch.run((): string => { ran.push(2); throw new Error('bug'); });
    const third = batch.run(() => { ran.push(3); return 'three'; });
    assert.deepEqual(ran, [], 'nothing runs in the turn that queued it');
    assert.equal(batch.waiting, 3);
    assert.equal(await first, 'one');
    await assert.rejects(failing, /bug/);
    assert.equal(await third, 'three');
    assert.deepEqual(ran, [1, 2, 3]);
    assert.equal(batch.waiting, 0);
    // A job queued after the flush runs in a later one.
    assert.equal(await batch.run(() => 'later'), 'later');
  });
});

describe('BearerAuthenticator: one verification per token, however many requests carry it at once', () => {
  let f: BearerFixture;
  before(async () => { f = await startBearerFixture(); });
  after(() => f.close());

  test('20 requests with the same never-seen valid token in one turn: one verification, the same identity for all', async () => {
    const auth = f.build(f.issuerConfigs);
    const token = await f.idp.sign(f.claims({ sub: 'u-flight' }), 'rsa-1');
    const results = await Promise.all(Array.from({ length: 20 }, () => auth.authenticate(bearer(token))));
    assert.equal(auth.verifications, 1);
    assert.ok(results.every((r) => r.kind === 'ok' && r.identity.subject === 'u-flight'));
    // Then from the cache, synchronously.
    const again = auth.authenticate(bearer(token));
    assert.ok(!(again instanceof Promise) && again.kind === 'ok');
    assert.equal(auth.verifications, 1);
  });

  test('a forged token replayed 50 times in one turn: one verification, 50 refusals for the signature', async () => {
    const auth = f.build(f.issuerConfigs);
    const good = await f.idp.sign(f.claims({ sub: 'u-forged' }), 'rsa-1');
    const [head, body, signature] = good.split('.') as [string, string, string];
    const forged = `${head}.${body}.${signature.startsWith('A') ? 'B' : 'A'}${signature.slice(1)}`;
    const results = await Promise.all(Array.from({ length: 50 }, () => auth.authenticate(bearer(forged))));
    assert.equal(auth.verifications, 1);
    assert.deepEqual(new Set(results.map(reasonOf)), new Set(['token_bad_signature']));
  });

  test('distinct tokens in one turn are each verified, in one batch; each gets its own verdict', async () => {
    const auth = f.build(f.issuerConfigs);
    const tokens = await Promise.all(Array.from({ length: 8 }, (_, i) => f.idp.sign(f.claims({ sub: `u-${i}` }), i % 2 ? 'ec-1' : 'rsa-1')));
    const expired = await f.idp.sign(f.claims({ sub: 'u-old', exp: f.clock.seconds() - 3600 }), 'rsa-1');
    const pending = [...tokens, expired].map((t) => auth.authenticate(bearer(t)));
    assert.equal(firstVerifications.waiting, 9, 'all nine wait for the end of this turn');
    const results = await Promise.all(pending);
    assert.equal(auth.verifications, 9);
    assert.deepEqual(results.slice(0, 8).map((r) => r.kind === 'ok' && r.identity.subject), tokens.map((_, i) => `u-${i}`));
    assert.equal(reasonOf(results[8]!), 'token_expired');
  });
});
