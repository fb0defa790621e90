/**
 * Callbacks that must not log anyone in: wrong/missing state, replayed code,
 * wrong nonce, a code from the other provider (mix-up), an IdP error, and
 * every open-redirect form of the return URL.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sealValue } from '../../src/authn/session-sealed-value.js';
import { deriveSessionKeys } from '../../src/authn/session-keys.js';
import { createLoginStates } from '../../src/oidc/login-state.js';
import { registry } from '../../src/observability/metrics.js';
import { APP, header, setCookies, startHarness, type Browser, type Harness } from './login-harness.js';

async function loginCount(provider: string, result: string): Promise<number> {
  const { values } = await registry.getSingleMetric('kestra_authz_oidc_logins_total')!.get();
  return values.find((v) => v.labels.provider === provider && v.labels.result === result)?.value ?? 0;
}

function assertNoSession(b: Browser, d: { responseHeaders: readonly (readonly [string, string])[] }) {
  assert.ok(!b.cookies.has('JWT'), 'no session cookie');
  assert.ok(!d.responseHeaders.some(([n, v]) => n === 'set-cookie' && /^JWT=[^;]+;/.test(v) && !/Max-Age=0/.test(v)));
}

describe('callback rejections', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  /** Starts a login at `provider` and walks the IdP: the callback URL, not yet visited. */
  async function loginUpToCallback(b: Browser, provider: 'alpha' | 'beta', returnTo = '/') {
    const start = await b.get(`/oauth/login/${provider}?redirect=${encodeURIComponent(returnTo)}`);
    const location = header(start, 'location')!;
    const handoff = await (provider === 'alpha' ? h.alpha : h.beta).loginWith(location, 'alice');
    return { location, callback: handoff.url };
  }

  test('missing state, unknown state → 400 state_invalid', async () => {
    const before = await loginCount('alpha', 'state_invalid');
    const b = h.browser();
    const { callback } = await loginUpToCallback(b, 'alpha');
    const url = new URL(callback);
    url.searchParams.delete('state');
    const missing = await b.get(url.pathname + url.search);
    assert.equal(missing.status, 400);
    url.searchParams.set('state', 'not-the-state');
    const wrong = await b.get(url.pathname + url.search);
    assert.equal(wrong.status, 400);
    assertNoSession(b, wrong);
    assert.equal(await loginCount('alpha', 'state_invalid'), before + 2);
    // The real callback still works: a wrong state did not spend the login.
    assert.equal((await b.get(callback)).status, 302);
    assert.ok(b.cookies.has('JWT'));
  });

  test('state cookie from another browser → state_invalid', async () => {
    const { callback } = await loginUpToCallback(h.browser(), 'alpha');
    const other = h.browser();
    const d = await other.get(callback);
    assert.equal(d.status, 400);
    assertNoSession(other, d);
  });

  test('replayed code → rejected (state cookie spent, and the IdP refuses the code)', async () => {
    const b = h.browser();
    const { callback } = await loginUpToCallback(b, 'alpha');
    const stateCookies = [...b.cookies].filter(([n]) => n.startsWith('OAUTH2_STATE_'));
    assert.equal((await b.get(callback)).status, 302);
    // Replay with the state cookie put back (an attacker who kept it): the IdP refuses the used code.
    const attacker = h.browser();
    for (const [n, v] of stateCookies) attacker.cookies.set(n, v);
    const before = await loginCount('alpha', 'code_invalid');
    const replay = await attacker.get(callback);
    assert.equal(replay.status, 400);
    assertNoSession(attacker, replay);
    assert.equal(await loginCount('alpha', 'code_invalid'), before + 1);
    // Same browser again: its state cookie is gone.
    b.cookies.delete('JWT');
    const again = await b.get(callback);
    assert.equal(again.status, 400);
  });

  test('wrong nonce → id_token_invalid', async () => {
    const b = h.browser();
    const { location, callback } = await loginUpToCallback(b, 'alpha');
    const auth = new URL(location);
    const state = auth.searchParams.get('state')!;
    // Re-seal the state cookie with everything right but the nonce (only the server's key can do this).
    const states = createLoginStates(deriveSessionKeys(h.config.secrets).loginState);
    const original = await states.find(b.cookies, state, h.now());
    assert.ok(original);
    const forged = await sealValue(deriveSessionKeys(h.config.secrets).loginState, 'kestra-authz/login-state', { ...original, nonce: 'another-nonce' });
    b.cookies.set(states.cookieName(state), forged);
    const before = await loginCount('alpha', 'id_token_invalid');
    const d = await b.get(callback);
    assert.equal(d.status, 400);
    assertNoSession(b, d);
    assert.equal(await loginCount('alpha', 'id_token_invalid'), before + 1);
  });

  test('a code from the other provider (mix-up) → rejected', async () => {
    // The browser starts at alpha, but the authorization request is replayed at beta; beta's code comes back to alpha's callback.
    const b = h.browser();
    const start = await b.get('/oauth/login/alpha');
    const atAlpha = new URL(header(start, 'location')!);
    const atBeta = new URL(`${h.beta.issuer}${atAlpha.pathname}${atAlpha.search}`);
    const handoff = await h.beta.loginWith(atBeta.toString(), 'alice');
    assert.ok(handoff.url.startsWith(`${APP}/oauth/callback/alpha?`));
    const d = await b.get(handoff.url);
    assert.equal(d.status, 400);
    assertNoSession(b, d);
  });

  test('state made for beta presented at alpha\'s callback → state_invalid', async () => {
    const b = h.browser();
    const { callback } = await loginUpToCallback(b, 'beta');
    const d = await b.get(callback.replace('/oauth/callback/beta', '/oauth/callback/alpha'));
    assert.equal(d.status, 400);
    assertNoSession(b, d);
  });

  test('IdP error parameter → idp_error', async () => {
    const b = h.browser();
    const start = await b.get('/oauth/login/alpha');
    const state = new URL(header(start, 'location')!).searchParams.get('state')!;
    const before = await loginCount('alpha', 'idp_error');
    const d = await b.get(`/oauth/callback/alpha?error=access_denied&state=${encodeURIComponent(state)}&iss=${encodeURIComponent(h.alpha.issuer)}`);
    assert.equal(d.status, 400);
    assert.match(d.body, /refused or cancelled/);
    assert.equal(await loginCount('alpha', 'idp_error'), before + 1);
  });

  test('form_post callback works', async () => {
    const b = h.browser();
    const start = await b.get('/oauth/login/alpha?redirect=%2Fposted');
    const auth = new URL(header(start, 'location')!);
    auth.searchParams.set('response_mode', 'form_post');
    const handoff = await h.alpha.loginWith(auth.toString(), 'alice');
    assert.equal(handoff.method, 'POST');
    const d = await b.request('POST', handoff.url, {
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'null' },
      body: handoff.body,
    });
    assert.equal(d.status, 302, d.body);
    assert.equal(header(d, 'location'), '/posted');
    assert.ok(b.cookies.has('JWT'));
  });

  for (const evil of ['//evil.example', '/\\evil.example', 'https://evil.example', 'javascript:alert(1)',
    '/%2F%2Fevil.example', '/%5Cevil.example', '%2F%2Fevil.example', '/%252F%252Fevil.example', '/\t/evil.example', 'http:/evil.example']) {
    test(`open redirect refused: ${JSON.stringify(evil)}`, async () => {
      const b = h.browser();
      const { callback } = await loginUpToCallback(b, 'alpha', evil);
      const d = await b.get(callback);
      assert.equal(d.status, 302);
      assert.equal(header(d, 'location'), '/');
      assert.ok(setCookies(d).some((c) => c.name === 'JWT'));
    });
  }
});
