/**
 * The list of sessions ended by a logout (cookie store), and its config:
 * entries live until the session's own expiry, the list is bounded, and
 * `authz.sessions.revocations` is checked like the other store settings.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EndedSessionList, MemoryEndedSessions } from '../../src/stores/ended-sessions.js';
import { load, problemsOf, where, yamlLines } from '../config/config-problems.js';

describe('ended sessions (cookie store)', () => {
  test('an ended sid is refused; others are live; an already expired session is not even listed', async () => {
    let now = 1_700_000_000_000;
    const ended = new MemoryEndedSessions(() => now);
    await ended.end('sid-1', now / 1000 + 3600);
    await ended.end('sid-old', now / 1000 - 1);
    assert.equal(ended.check('sid-1'), 'ended');
    assert.equal(ended.check('sid-2'), 'live');
    assert.equal(ended.check('sid-old'), 'live');
    now += 10_000;
    assert.equal(ended.check('sid-1'), 'ended');
  });

  test('bounded: expired entries go first; when full of live ones, the oldest goes', () => {
    let now = 1_700_000_000_000;
    const list = new EndedSessionList(() => now, 3);
    const s = now / 1000;
    list.add('a', s + 10);
    list.add('b', s + 1000);
    list.add('c', s + 1000);
    now += 20_000;
    list.add('d', s + 1000); // 'a' has expired: dropped, nothing live is lost
    assert.deepEqual(['a', 'b', 'c', 'd'].map((k) => list.has(k)), [false, true, true, true]);
    list.add('e', s + 1000);
    assert.equal(list.size, 3);
    assert.deepEqual(['b', 'e'].map((k) => list.has(k)), [false, true]);
  });
});

describe('authz.sessions.revocations', () => {
  const SECRET = 'kestra:\n  encryption: { secret-key: "a-secret-of-at-least-thirty-two-bytes!!" }\n';
  test('a url means redis; the default is per process (no revocations)', () => {
    assert.deepEqual(load(`${SECRET}authz:\n  sessions: { revocations: { url: "redis://r:6379/1" } }\n`).sessions,
      { store: 'cookie', revocations: { url: 'redis://r:6379/1', prefix: 'kestra-authz:' } });
    assert.deepEqual(load(`${SECRET}authz:\n  sessions: { store: cookie, revocations: { store: memory } }\n`).sessions, { store: 'cookie' });
  });

  test('store redis without url, url with store memory, revocations with the Redis session store: problems naming the key', () => {
    const problems = problemsOf(yamlLines(
      'authz:',
      '  sessions:',
      '    store: redis',
      '    url: "redis://r:6379"',
      '    revocations: { store: memory, url: "redis://r:6379" }',
    ));
    assert.deepEqual(where(problems), [['authz.sessions.revocations', 5], ['authz.sessions.revocations.url', 5]]);
    assert.deepEqual(where(problemsOf(yamlLines('authz:', '  sessions: { revocations: { store: redis } }'))), [['authz.sessions.revocations', 2]]);
  });
});
