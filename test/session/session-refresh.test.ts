/**
 * Refresh at the provider through decide(): due after the IdP's token
 * lifetime, single-flight (20 concurrent requests → one refresh grant),
 * new cookies on the allowed response; a refused refresh → session_expired
 * (browser sent to log in, API 401). Also: many-groups session end to end.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as oidc from 'openid-client';
import { createSessionCookies } from '../../src/authn/session-cookie.js';
import { deriveSessionKeys } from '../../src/authn/session-keys.js';
import { createRefreshCookies } from '../../src/authn/session-refresh-cookie.js';
import { header, setCookies, startHarness, type Browser, type Harness } from '../oidc/login-harness.js';

const MANY = Array.from({ length: 500 }, (_, i) => `org-unit-${i}-kestra-flow-editors-for-the-long-named-namespace`);

describe('session refresh (oidc-provider with 60 s tokens)', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({
      idp: { accessTokenTtl: 60, idTokenTtl: 60 },
      users: { alice: { preferred_username: 'alice', groups: ['devs'] }, many: { preferred_username: 'many', groups: MANY } },
    });
  });
  after(() => h.close());

  async function logIn(login = 'alice'): Promise<Browser> {
    const b = h.browser();
    const start = await b.get('/oauth/login/alpha?redirect=%2Fui');
    const done = await b.get((await h.alpha.loginWith(header(start, 'location')!, login)).url);
    assert.equal(done.status, 302, done.body);
    return b;
  }

  test('20 concurrent requests with a due session → one refresh, all allowed with new cookies', async () => {
    const b = await logIn();
    assert.equal((await b.get('/ui')).responseHeaders.filter(([n]) => n === 'set-cookie').length, 0, 'not due yet');
    const refreshesBefore = h.alpha.counts.refresh;
    h.advance(61_000);
    const answers = await Promise.all(Array.from({ length: 20 }, () => b.get('/ui')));
    assert.equal(h.alpha.counts.refresh - refreshesBefore, 1, 'single-flight');
    for (const d of answers) {
      assert.equal(d.allow, true, d.body);
      assert.equal(d.identity?.name, 'alice');
      const names = setCookies(d).map((c) => c.name).sort();
      assert.deepEqual(names, ['JWT', 'JWT_REFRESH_TOKEN']);
    }
    // The new cookies carry a new refresh time: no refresh on the next request.
    const next = await b.get('/ui');
    assert.equal(next.allow, true);
    assert.equal(h.alpha.counts.refresh - refreshesBefore, 1);
    assert.equal(next.responseHeaders.filter(([n]) => n === 'set-cookie').length, 0);
  });

  test('refresh refused by the IdP → session_expired: browser redirected (cookies cleared), API 401', async () => {
    const b = await logIn();
    // Spend the one-time refresh token outside the service, as a stolen copy would.
    const keys = deriveSessionKeys(h.config.secrets);
    const read = await createSessionCookies('JWT', keys.session).read(b.cookies, Math.floor(h.now() / 1000));
    assert.equal(read.kind, 'ok');
    const grant = await createRefreshCookies('JWT', keys.refresh).read(b.cookies, read.kind === 'ok' ? read.record.sid : '');
    const client = await oidc.discovery(new URL(h.alpha.issuer), 'app', undefined, oidc.ClientSecretBasic('app-secret'));
    await oidc.refreshTokenGrant(client, grant!.refreshToken);
    const failedBefore = h.alpha.counts.refreshFailed;

    h.advance(61_000);
    const api = await b.get('/api/thing', { accept: 'application/json', 'sec-fetch-mode': 'cors' });
    assert.equal(api.status, 401);
    assert.equal(api.reason, 'session_expired');
    assert.equal(h.alpha.counts.refreshFailed - failedBefore, 1);
    const nav = await b.get('/ui');
    assert.equal(nav.status, 302);
    assert.match(header(nav, 'location')!, /^\/login\?redirect=%2Fui$/);
    assert.ok(!b.cookies.has('JWT') && !b.cookies.has('JWT_REFRESH_TOKEN'), 'the dead session is cleared');
  });

  test('a login with 500 groups: cookies < 4096 bytes each, the session carries every group', async () => {
    const b = h.browser();
    const start = await b.get('/oauth/login/alpha');
    const callback = await b.get((await h.alpha.loginWith(header(start, 'location')!, 'many')).url);
    assert.equal(callback.status, 302, callback.body);
    for (const c of setCookies(callback)) assert.ok(Buffer.byteLength(c.line) < 4096, `${c.name}: ${Buffer.byteLength(c.line)}`);
    const page = await b.get('/ui');
    assert.equal(page.allow, true);
    assert.equal(page.identity?.groups.length, 500);
  });

  test('garbled session cookie → session_invalid (API 401, browser redirected)', async () => {
    const b = h.browser();
    b.cookies.set('JWT', 'eyJhbGciOiJIUzI1NiJ9.e30.AAAA');
    const api = await b.get('/api/x', { accept: 'application/json', 'sec-fetch-mode': 'cors' });
    assert.equal(api.reason, 'session_invalid');
    assert.equal((await b.get('/ui')).status, 302);
  });
});
