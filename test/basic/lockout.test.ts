/**
 * LockoutTracker with a fake clock: threshold, lock duration, window expiry,
 * reset on success, the metric, and bounded memory.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { LockoutTracker } from '../../src/authn/lockout.js';
import { basicAuthLockoutsTotal } from '../../src/observability/metrics.js';

function fakeClock(start = 1_700_000_000_000) {
  let now = start;
  return { now: () => now, advance: (seconds: number) => { now += seconds * 1000; } };
}

async function lockouts(): Promise<number> {
  return (await basicAuthLockoutsTotal.get()).values[0]?.value ?? 0;
}

describe('LockoutTracker', () => {
  test('threshold failures lock the key; fewer do not', () => {
    const clock = fakeClock();
    const tracker = new LockoutTracker({ threshold: 3, windowSeconds: 300, lockSeconds: 1800, now: clock.now });
    assert.equal(tracker.recordFailure('ops'), false);
    assert.equal(tracker.recordFailure('ops'), false);
    assert.equal(tracker.isLocked('ops'), false);
    assert.equal(tracker.recordFailure('ops'), true);
    assert.equal(tracker.isLocked('ops'), true);
    assert.equal(tracker.isLocked('other'), false);
  });

  test('a lock lasts lockSeconds, then the key starts afresh', () => {
    const clock = fakeClock();
    const tracker = new LockoutTracker({ threshold: 2, windowSeconds: 300, lockSeconds: 1800, now: clock.now });
    tracker.recordFailure('ops');
    tracker.recordFailure('ops');
    clock.advance(1799);
    assert.equal(tracker.isLocked('ops'), true);
    clock.advance(1);
    assert.equal(tracker.isLocked('ops'), false);
    assert.equal(tracker.recordFailure('ops'), false, 'the count starts again from zero after a lock');
    assert.equal(tracker.isLocked('ops'), false);
  });

  test('failures reported while locked neither extend the lock nor count', () => {
    const clock = fakeClock();
    const tracker = new LockoutTracker({ threshold: 2, windowSeconds: 300, lockSeconds: 60, now: clock.now });
    tracker.recordFailure('ops');
    tracker.recordFailure('ops');
    clock.advance(59);
    assert.equal(tracker.recordFailure('ops'), false);
    clock.advance(1);
    assert.equal(tracker.isLocked('ops'), false);
  });

  test('a success resets the count', () => {
    const tracker = new LockoutTracker({ threshold: 3, windowSeconds: 300, lockSeconds: 60, now: fakeClock().now });
    tracker.recordFailure('ops');
    tracker.recordFailure('ops');
    tracker.recordSuccess('ops');
    tracker.recordFailure('ops');
    tracker.recordFailure('ops');
    assert.equal(tracker.isLocked('ops'), false);
    assert.equal(tracker.recordFailure('ops'), true);
  });

  test('failures older than the monitoring window are forgotten', () => {
    const clock = fakeClock();
    const tracker = new LockoutTracker({ threshold: 3, windowSeconds: 300, lockSeconds: 60, now: clock.now });
    tracker.recordFailure('ops');
    tracker.recordFailure('ops');
    clock.advance(300);
    assert.equal(tracker.recordFailure('ops'), false, 'a new window opened: this is failure 1 of 3');
    tracker.recordFailure('ops');
    assert.equal(tracker.isLocked('ops'), false);
    assert.equal(tracker.recordFailure('ops'), true);
  });

  test('the lockout metric goes up exactly once per lock', async () => {
    const tracker = new LockoutTracker({ threshold: 2, windowSeconds: 300, lockSeconds: 60, now: fakeClock().now });
    const before = await lockouts();
    for (let i = 0; i < 10; i++) tracker.recordFailure('ops');
    assert.equal(await lockouts(), before + 1);
    tracker.recordFailure('dev');
    tracker.recordFailure('dev');
    assert.equal(await lockouts(), before + 2);
  });

  test('lockSeconds 0 counts but never locks', async () => {
    const tracker = new LockoutTracker({ threshold: 1, windowSeconds: 300, lockSeconds: 0, now: fakeClock().now });
    const before = await lockouts();
    assert.equal(tracker.recordFailure('ops'), false);
    assert.equal(tracker.isLocked('ops'), false);
    assert.equal(await lockouts(), before);
  });

  test('memory is capped; spraying new keys evicts counters but never a lock', () => {
    const tracker = new LockoutTracker({ threshold: 2, windowSeconds: 300, lockSeconds: 60, now: fakeClock().now, maxKeys: 100 });
    tracker.recordFailure('victim');
    tracker.recordFailure('victim');
    tracker.recordFailure('half');
    for (let i = 0; i < 10_000; i++) tracker.recordFailure(`spray-${i}`);
    assert.ok(tracker.size <= 200, `tracked ${tracker.size}`);
    assert.equal(tracker.isLocked('victim'), true, 'a lock survives the spray');
    assert.equal(tracker.recordFailure('half'), false, 'the oldest counter was evicted, so this is failure 1 again');
  });

  test('locks are capped too: the oldest lock goes first', () => {
    const tracker = new LockoutTracker({ threshold: 1, windowSeconds: 300, lockSeconds: 60, now: fakeClock().now, maxKeys: 3 });
    for (const key of ['a', 'b', 'c', 'd']) tracker.recordFailure(key);
    assert.equal(tracker.lockedCount, 3);
    assert.equal(tracker.isLocked('a'), false);
    assert.equal(tracker.isLocked('d'), true);
  });

  test('options are checked once, naming the option', () => {
    assert.throws(() => new LockoutTracker({ threshold: 0, windowSeconds: 300, lockSeconds: 60 }), /"threshold"/);
    assert.throws(() => new LockoutTracker({ threshold: 1.5, windowSeconds: 300, lockSeconds: 60 }), /"threshold"/);
    assert.throws(() => new LockoutTracker({ threshold: 3, windowSeconds: 0, lockSeconds: 60 }), /"windowSeconds"/);
    assert.throws(() => new LockoutTracker({ threshold: 3, windowSeconds: 300, lockSeconds: Number.NaN }), /"lockSeconds"/);
    assert.throws(() => new LockoutTracker({ threshold: 3, windowSeconds: 300, lockSeconds: 60, maxKeys: 0 }), /"maxKeys"/);
  });
});

describe('LockoutTracker reservations (an attempt counted before its password is checked)', () => {
  test('at most threshold reservations per window, however many at once; a failure confirmed at the threshold locks, once', async () => {
    const clock = fakeClock();
    const tracker = new LockoutTracker({ threshold: 3, windowSeconds: 300, lockSeconds: 1800, now: clock.now });
    const granted = Array.from({ length: 100 }, () => tracker.reserve('ops')).filter(Boolean).length;
    assert.equal(granted, 3);
    assert.equal(tracker.isLocked('ops'), false, 'no lock before a failure is confirmed');
    const before = await lockouts();
    assert.deepEqual([tracker.confirmFailure('ops'), tracker.confirmFailure('ops'), tracker.confirmFailure('ops')], [true, false, false]);
    assert.equal(await lockouts(), before + 1);
    assert.equal(tracker.isLocked('ops'), true);
    assert.equal(tracker.reserve('ops'), false);
  });

  test('a released slot can be taken again; a success clears the count; the window restarts the budget', () => {
    const clock = fakeClock();
    const tracker = new LockoutTracker({ threshold: 2, windowSeconds: 300, lockSeconds: 1800, now: clock.now });
    assert.equal(tracker.reserve('ops'), true);
    assert.equal(tracker.reserve('ops'), true);
    assert.equal(tracker.reserve('ops'), false);
    tracker.release('ops');
    assert.equal(tracker.reserve('ops'), true);
    tracker.recordSuccess('ops');
    assert.equal(tracker.reserve('ops'), true);
    assert.equal(tracker.reserve('ops'), true);
    assert.equal(tracker.reserve('ops'), false);
    clock.advance(300);
    assert.equal(tracker.reserve('ops'), true, 'a new window');
  });

  test('lockSeconds 0: reservations are never refused', () => {
    const tracker = new LockoutTracker({ threshold: 1, windowSeconds: 300, lockSeconds: 0 });
    assert.equal(Array.from({ length: 10 }, () => tracker.reserve('ops')).every(Boolean), true);
    assert.equal(tracker.confirmFailure('ops'), false);
  });
});
