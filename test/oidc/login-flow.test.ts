/**
 * The whole browser login through decide(), against two real IdPs over HTTPS:
 * redirect → chooser → provider → callback → session → logout, plus the
 * Basic form and the login redirect's browser/API split.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { registry } from '../../src/observability/metrics.js';
import { APP, header, setCookies, startHarness, type Harness } from './login-harness.js';

async function loginCount(provider: string, result: string): Promise<number> {
  const { values } = await registry.getSingleMetric('kestra_authz_oidc_logins_total')!.get();
  return values.find((v) => v.labels.provider === provider && v.labels.result === result)?.value ?? 0;
}

describe('login flow (two IdPs, decide())', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  test('browser navigation → chooser → IdP → callback → session → allowed', async () => {
    const b = h.browser();
    const first = await b.get('/ui/flows?tab=mine');
    assert.equal(first.status, 302);
    assert.equal(first.reason, 'login_redirect');
    assert.equal(header(first, 'location'), '/login?redirect=%2Fui%2Fflows%3Ftab%3Dmine');

    const chooser = await b.get(header(first, 'location')!);
    assert.equal(chooser.status, 200);
    assert.match(header(chooser, 'content-type')!, /^text\/html/);
    assert.match(header(chooser, 'content-security-policy')!, /default-src 'none'/);
    assert.equal(header(chooser, 'x-frame-options'), 'DENY');
    assert.match(chooser.body, /href="\/oauth\/login\/alpha\?redirect=%2Fui%2Fflows%3Ftab%3Dmine"/);
    assert.match(chooser.body, /href="\/oauth\/login\/beta\?redirect=/);
    assert.match(chooser.body, /<form method="post" action="\/login">/);

    const before = await loginCount('alpha', 'success');
    const start = await b.get('/oauth/login/alpha?redirect=%2Fui%2Fflows%3Ftab%3Dmine');
    assert.equal(start.status, 302);
    const idpUrl = new URL(header(start, 'location')!);
    assert.equal(idpUrl.origin, h.alpha.issuer);
    assert.equal(idpUrl.searchParams.get('code_challenge_method'), 'S256');
    assert.equal(idpUrl.searchParams.get('redirect_uri'), `${APP}/oauth/callback/alpha`);
    assert.equal(idpUrl.searchParams.get('scope'), 'openid profile email groups');
    assert.ok(idpUrl.searchParams.get('nonce') && idpUrl.searchParams.get('state'));
    const [stateCookie] = setCookies(start);
    assert.match(stateCookie!.name, /^OAUTH2_STATE_[\w-]{16}$/);
    assert.match(stateCookie!.attributes, /Path=\/oauth; Max-Age=300; HttpOnly; Secure; SameSite=Lax/);

    const handoff = await h.alpha.loginWith(idpUrl.toString(), 'alice');
    assert.ok(handoff.url.startsWith(`${APP}/oauth/callback/alpha?`));
    const callback = await b.get(handoff.url);
    assert.equal(callback.status, 302, callback.body);
    assert.equal(header(callback, 'location'), '/ui/flows?tab=mine');
    const names = setCookies(callback).map((c) => `${c.name}${/max-age=0/i.test(c.attributes) ? ' (expired)' : ''}`);
    assert.deepEqual(names.sort(), ['JWT', 'JWT_REFRESH_TOKEN', `${stateCookie!.name} (expired)`].sort());
    const session = setCookies(callback).find((c) => c.name === 'JWT')!;
    assert.match(session.attributes, /Path=\/; Max-Age=\d+; HttpOnly; Secure; SameSite=Lax/);
    assert.equal(await loginCount('alpha', 'success'), before + 1);

    const page = await b.get('/ui/flows?tab=mine');
    assert.equal(page.allow, true, page.body);
    assert.equal(page.identity?.via, 'session');
    assert.equal(page.identity?.name, 'alice');
    assert.equal(page.identity?.provider, 'alpha');
    assert.deepEqual(page.identity?.groups, ['devs', 'ops']);
    const upstream = Object.fromEntries(page.upstreamHeaders);
    assert.equal(upstream['x-kestra-user'], 'alice');
    assert.ok(page.upstreamHeadersToRemove.includes('cookie'), 'our cookies never reach the upstream');
  });

  test('one provider: straight to it; XHR/API keep 401', async () => {
    const single = await startHarness({ onlyAlpha: true });
    try {
      const nav = await single.browser().get('/x?y=1');
      assert.equal(header(nav, 'location'), '/oauth/login/alpha?redirect=%2Fx%3Fy%3D1');
    } finally {
      await single.close();
    }
    const b = h.browser();
    for (const headers of [
      { accept: 'application/json', 'sec-fetch-mode': '' },
      { 'x-requested-with': 'XMLHttpRequest' },
      { 'sec-fetch-mode': 'cors', accept: 'text/html' },
      { accept: '*/*', 'sec-fetch-mode': '' },
    ]) {
      const clean: Record<string, string> = {};
      for (const [k, v] of Object.entries(headers)) if (v) clean[k] = v;
      const d = await b.request('GET', '/api/thing', { headers: { accept: '', 'sec-fetch-mode': '', ...clean } });
      assert.equal(d.status, 401, JSON.stringify(headers));
    }
    const post = await b.request('POST', '/ui/x');
    assert.equal(post.status, 401, 'a POST is never redirected');
  });

  test('Basic form: POST /login → session cookie → allowed; wrong password → 401 page', async () => {
    const b = h.browser();
    const origin = { origin: APP, 'content-type': 'application/x-www-form-urlencoded' };
    const bad = await b.request('POST', '/login', { headers: origin, body: 'username=carol&password=nope&redirect=%2Fui' });
    assert.equal(bad.status, 401);
    assert.match(bad.body, /Invalid user name or password/);
    assert.match(bad.body, /value="carol"/);
    const ok = await b.request('POST', '/login', { headers: origin, body: 'username=carol&password=carol-password&redirect=%2F%2Fevil.example' });
    assert.equal(ok.status, 302);
    assert.equal(header(ok, 'location'), '/', 'open redirect refused');
    const page = await b.get('/ui');
    assert.equal(page.allow, true);
    assert.equal(page.identity?.name, 'carol');
    assert.deepEqual(page.identity?.groups, ['basic-team']);

    const json = await h.browser().request('POST', '/login', {
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ username: 'carol', password: 'carol-password' }),
    });
    assert.equal(json.status, 200);
    assert.deepEqual(JSON.parse(json.body), { username: 'carol', redirect: '/' });

    const csrf = await h.browser().request('POST', '/login', {
      headers: { origin: 'https://evil.example', 'content-type': 'application/x-www-form-urlencoded' },
      body: 'username=carol&password=carol-password',
    });
    assert.equal(csrf.status, 403);
    assert.equal(setCookies(csrf).length, 0);
  });

  test('logout: POST clears our cookies and goes to the end_session_endpoint with id_token_hint', async () => {
    const b = h.browser();
    const agent = h.beta.newAgent();
    const start = await b.get('/oauth/login/beta?redirect=%2Fhome');
    await b.get((await agent.login(header(start, 'location')!, 'bob')).url);
    assert.equal((await b.get('/home')).identity?.name, 'bob');
    assert.ok(agent.hasSession);

    const getLogout = await b.get('/logout');
    assert.equal(getLogout.status, 405, 'GET /logout not allowed by default while logged in');

    const out = await b.request('POST', '/logout', { headers: { origin: APP } });
    assert.equal(out.status, 302);
    const end = new URL(header(out, 'location')!);
    assert.equal(end.origin, h.beta.issuer);
    assert.ok(end.searchParams.get('id_token_hint'));
    assert.equal(end.searchParams.get('post_logout_redirect_uri'), `${APP}/logout`);
    const expired = setCookies(out).filter((c) => /Max-Age=0/.test(c.attributes)).map((c) => c.name).sort();
    assert.deepEqual(expired, ['JWT', 'JWT_REFRESH_TOKEN']);
    assert.equal(b.cookies.size, 0);

    const back = await agent.logout(end.toString());
    assert.equal(back.url, `${APP}/logout`);
    assert.equal(agent.hasSession, false, 'logged out at the IdP too');
    const landing = await b.get(back.url);
    assert.equal(landing.status, 302);
    assert.equal(header(landing, 'location'), '/', 'the post-logout landing does not loop');
    assert.equal((await b.get('/home')).status, 302, 'logged out here');
  });

  test('unknown provider → 404; /oauth/login with POST → 405', async () => {
    const b = h.browser();
    assert.equal((await b.get('/oauth/login/nope')).status, 404);
    assert.equal((await b.request('POST', '/oauth/login/alpha')).status, 405);
    assert.equal((await b.get('/oauth/callback/nope?code=x&state=y')).status, 404);
  });
});
