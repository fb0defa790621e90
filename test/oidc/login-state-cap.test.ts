/**
 * Per-login state cookies: one per tab, at most 5 per browser (the oldest
 * expire first), and the newest login still completes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { MAX_LOGIN_STATES } from '../../src/oidc/login-state.js';
import { header, startHarness, type Harness } from './login-harness.js';

describe('login state cookies', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  test('parallel tabs: never more than 5 state cookies; the oldest go first; tabs still in the cap finish', async () => {
    const b = h.browser();
    const starts: string[] = [];
    for (let i = 0; i < 8; i++) {
      const d = await b.get(`/oauth/login/${i % 2 ? 'beta' : 'alpha'}?redirect=%2Ftab${i}`);
      starts.push(header(d, 'location')!);
      h.advance(1000); // distinct creation times
      const count = [...b.cookies.keys()].filter((n) => n.startsWith('OAUTH2_STATE_')).length;
      assert.ok(count <= MAX_LOGIN_STATES, `${count} state cookies after login ${i + 1}`);
    }
    assert.equal([...b.cookies.keys()].filter((n) => n.startsWith('OAUTH2_STATE_')).length, MAX_LOGIN_STATES);
    // Tab 0 was evicted: its callback is refused. Tab 7 (newest, beta) completes.
    const oldest = await b.get((await h.alpha.loginWith(starts[0]!, 'alice')).url);
    assert.equal(oldest.status, 400);
    const newest = await b.get((await h.beta.loginWith(starts[7]!, 'alice')).url);
    assert.equal(newest.status, 302, newest.body);
    assert.equal(header(newest, 'location'), '/tab7');
  });

  test('a state cookie older than 5 minutes is refused', async () => {
    const b = h.browser();
    const start = await b.get('/oauth/login/alpha');
    const handoff = await h.alpha.loginWith(header(start, 'location')!, 'alice');
    h.advance(301_000);
    assert.equal((await b.get(handoff.url)).status, 400);
  });
});
