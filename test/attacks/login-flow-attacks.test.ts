/**
 * Attacks on the browser login flow, through the real service with a real
 * oidc-provider IdP: open redirects through every entrance that takes a
 * return URL (OIDC login, the Basic login form, the chooser page, the
 * original request), state and code replay, login CSRF, callbacks for
 * providers that do not exist, oversized and numerous cookies, and
 * forwarded headers that try to move the callback elsewhere.
 *
 * Run with NODE_EXTRA_CA_CERTS=test/fixtures/tls/cert.pem (the IdP is HTTPS).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createUsersWithCli } from '../helpers/cli-users.js';
import { cookieHeader, cookiesFromSetCookie, type CookieJar } from '../helpers/cookie-jar.js';
import { headerOf, headersOf, type CheckResponseJs } from '../helpers/grpc-client.js';
import { AT_EXTERNAL_URL, EXTERNAL_HOST, EXTERNAL_URL, NAVIGATION, startGrpcDoor, type GrpcDoor } from '../helpers/grpc-door.js';
import { beginLogin, callbackCheck, finishLogin } from '../helpers/login-session.js';
import { metricValue } from '../helpers/metric-value.js';
import { startOidcIdp, type OidcIdp } from '../helpers/oidc-idp.js';
import { PROFILE_SCOPES, TEST_CLIENT, oidcServiceYaml } from '../helpers/oidc-service-config.js';
import { countedAs, expectAllowed, expectRefused } from './attack-kit.js';

const SECRET = 'login-flow-attacks-secret-0123456789abcdef';
const CALLBACK = `${EXTERNAL_URL}/oauth/callback/idp`;

/**
 * Return URLs an attacker would put in `redirect=`: other origins in every
 * spelling a browser accepts, and the same behind percent-encoding, control
 * characters, backslashes, userinfo and dot segments.
 */
export const OPEN_REDIRECTS: readonly string[] = [
  '//evil.example', '///evil.example', '////evil.example/x', '/\\evil.example', '\\\\evil.example', '\\/\\/evil.example',
  '/\\/evil.example', 'https://evil.example', 'https:evil.example', 'http:evil.example', 'http:/evil.example',
  'HTTPS://evil.example', 'https://good@evil.example', '//good@evil.example', 'https://kestra.example.com@evil.example',
  'https://kestra.example.com.evil.example/', 'javascript:alert(1)', 'JaVaScRiPt:alert(1)', 'java\tscript:alert(1)',
  ' javascript:alert(1)', 'data:text/html,<script>alert(1)</script>', 'vbscript:msgbox(1)',
  '%2F%2Fevil.example', '/%2F%2Fevil.example', '/%2f/evil.example', '/%2F/evil.example', '%5C%5Cevil.example',
  '/%5Cevil.example', '/%5C%5Cevil.example', '/%252F%252Fevil.example', '%252F%252Fevil.example',
  '/%09/evil.example', '/\t/evil.example', '/\n/evil.example', '/\r/evil.example', '/\r\n/evil.example',
  '/%0d%0a/evil.example', '/%0D%0ASet-Cookie:x=1', ' //evil.example', '\t//evil.example', '/\u0000/evil.example',
  '/.//evil.example', '/./\\evil.example', '/a/..//evil.example', '/%2e//evil.example', '/%2E%2E//evil.example',
  '/x/%2e%2e//evil.example', '/..//evil.example', '/%2e%2e/%2fevil.example',
];

/** A `Location` that can only take the browser to a path on our own origin. */
function assertSameOriginPath(location: string, attack: string): void {
  const why = `${JSON.stringify(attack)} → Location ${JSON.stringify(location)}`;
  assert.ok(location.startsWith('/'), `relative path: ${why}`);
  assert.ok(location[1] !== '/' && location[1] !== '\\', `not protocol-relative: ${why}`);
  // eslint-disable-next-line no-control-regex
  assert.doesNotMatch(location, /[\x00-\x1f\x7f\\]/, `no controls or backslashes: ${why}`);
  assert.equal(new URL(location, EXTERNAL_URL).origin, EXTERNAL_URL, `stays on our origin: ${why}`);
}

describe('login flow attacks (gRPC and HTTP doors, real IdP)', () => {
  let dir: string;
  let idp: OidcIdp;
  let door: GrpcDoor;
  let httpDoor: string;
  /** A logged-in browser's cookies (session cookie `JWT`). */
  let session: CookieJar;

  const loginsCounted = (result: string) => metricValue('kestra_authz_oidc_logins_total', { provider: 'idp', result });
  const sessionCookieSet = (res: CheckResponseJs) => Boolean(cookiesFromSetCookie(headersOf(res.denied_response?.headers, 'set-cookie')).get('JWT'));

  before(async () => {
    assert.ok(process.env.NODE_EXTRA_CA_CERTS, 'run with NODE_EXTRA_CA_CERTS=test/fixtures/tls/cert.pem (the test IdP is HTTPS)');
    dir = await mkdtemp(join(tmpdir(), 'kauthz-flow-attacks-'));
    idp = await startOidcIdp({ name: 'opatk', clients: [{ ...TEST_CLIENT, redirect_uris: [CALLBACK] }], users: { alice: { email: 'alice@example.com', groups: ['devs'] } } });
    const configPath = join(dir, 'config.yaml');
    await writeFile(configPath, oidcServiceYaml({
      secret: SECRET, externalUrl: EXTERNAL_URL, dir, providers: { idp }, scopes: PROFILE_SCOPES,
      authz: { default: 'authenticated' },
    }));
    await createUsersWithCli(configPath, ['--username', 'ops', '--password', 'correct-horse-1']);
    door = await startGrpcDoor(configPath, AT_EXTERNAL_URL);
    httpDoor = `http://127.0.0.1:${door.service.httpPort}`;
    const start = await beginLogin(door, '/oauth/login/idp');
    const handoff = await idp.loginWith(start.authorizeUrl.toString(), 'alice');
    await finishLogin(door, handoff.url, start.jar);
    session = new Map([['JWT', start.jar.get('JWT')!]]);
    assert.ok(session.get('JWT'));
  });

  after(async () => {
    await door?.close();
    await idp?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('open redirect through the OIDC login: every evil return URL lands on a same-origin path', async () => {
    const agent = idp.newAgent(); // one IdP session: after the first login the IdP answers at once
    for (const evil of OPEN_REDIRECTS) {
      const start = await beginLogin(door, `/oauth/login/idp?redirect=${encodeURIComponent(evil)}`);
      const handoff = await agent.login(start.authorizeUrl.toString(), 'alice');
      const res = await countedAs('login_flow', () => callbackCheck(door, handoff.url, start.jar));
      expectRefused(res, 302, 'login_flow');
      assert.ok(sessionCookieSet(res), `the login itself succeeds (${JSON.stringify(evil)})`);
      assertSameOriginPath(headerOf(res.denied_response?.headers, 'location') ?? '', evil);
    }
  });

  test('open redirect through the Basic login form (HTTP door): same-origin paths only', async () => {
    for (const evil of OPEN_REDIRECTS) {
      const res = await fetch(`${httpDoor}/login`, {
        method: 'POST',
        redirect: 'manual',
        headers: { host: EXTERNAL_HOST, origin: EXTERNAL_URL, 'x-forwarded-proto': 'https', 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ username: 'ops', password: 'correct-horse-1', redirect: evil }).toString(),
      });
      await res.arrayBuffer();
      assert.equal(res.status, 302, JSON.stringify(evil));
      assertSameOriginPath(res.headers.get('location') ?? '', evil);
    }
  });

  test('open redirect through the chooser page and the login redirect of the original request', async () => {
    for (const evil of OPEN_REDIRECTS) {
      // The chooser keeps the return URL in its links and form: only a safe one.
      const page = await door.check({ path: `/login?redirect=${encodeURIComponent(evil)}`, headers: NAVIGATION });
      const html = page.denied_response?.body ?? '';
      for (const [, kept] of html.matchAll(/redirect=([^"&]*)/g)) assertSameOriginPath(decodeURIComponent(kept!.replace(/&amp;/g, '&')), evil);
      for (const [, kept] of html.matchAll(/name="redirect" value="([^"]*)"/g)) assertSameOriginPath(kept!.replace(/&amp;/g, '&'), evil);
    }
    // Encoded slashes and backslashes never get that far: the path is refused (400) before any rule.
    for (const path of ['/\\evil.example/x', '/%2F%2Fevil.example', '/%5Cevil.example']) {
      expectRefused(await countedAs('bad_request', () => door.check({ path, headers: NAVIGATION })), 400, 'bad_request');
    }
    for (const path of ['//evil.example/x', '///evil.example', '/.//evil.example']) {
      const res = await countedAs('login_redirect', () => door.check({ path, headers: NAVIGATION }));
      expectRefused(res, 302, 'login_redirect');
      const location = new URL(headerOf(res.denied_response?.headers, 'location') ?? '', EXTERNAL_URL);
      assert.equal(location.origin, EXTERNAL_URL);
      assertSameOriginPath(location.searchParams.get('redirect') ?? '/', path);
    }
  });

  test('state replay: a spent callback is refused; with the state cookie kept, the IdP refuses the used code', async () => {
    const start = await beginLogin(door, '/oauth/login/idp');
    const handoff = await idp.loginWith(start.authorizeUrl.toString(), 'alice');
    const stateCookies = new Map(start.jar);
    const first = await callbackCheck(door, handoff.url, start.jar);
    assert.ok(sessionCookieSet(first), 'the first use logs in');
    // The browser applied the answer: its state cookie is expired.
    const spent = cookiesFromSetCookie(headersOf(first.denied_response?.headers, 'set-cookie'));
    const replayJar = new Map([...start.jar].map(([n, v]) => [n, spent.has(n) ? spent.get(n)! : v]));
    const stateInvalid = await loginsCounted('state_invalid');
    const again = await countedAs('login_failed', () => callbackCheck(door, handoff.url, replayJar));
    expectRefused(again, 400, 'login_failed');
    assert.ok(!sessionCookieSet(again));
    assert.equal(await loginsCounted('state_invalid'), stateInvalid + 1);

    // An attacker who copied the state cookie replays everything: the code is single-use at the IdP.
    const codeInvalid = await loginsCounted('code_invalid');
    const replay = await countedAs('login_failed', () => callbackCheck(door, handoff.url, stateCookies));
    expectRefused(replay, 400, 'login_failed');
    assert.ok(!sessionCookieSet(replay), 'never a session from a replayed code');
    assert.equal(await loginsCounted('code_invalid'), codeInvalid + 1);
  });

  test("two logins in one browser: one login's code with the other's state (PKCE/nonce mismatch) is refused", async () => {
    const one = await beginLogin(door, '/oauth/login/idp');
    const two = await beginLogin(door, '/oauth/login/idp');
    const jar = new Map([...one.jar, ...two.jar]);
    const handoff = new URL((await idp.loginWith(one.authorizeUrl.toString(), 'alice')).url);
    handoff.searchParams.set('state', two.authorizeUrl.searchParams.get('state')!);
    const res = await countedAs('login_failed', () => callbackCheck(door, handoff.toString(), jar));
    expectRefused(res, 400, 'login_failed');
    assert.ok(!sessionCookieSet(res));
  });

  test("nonce replay: an ID token carrying another login's nonce is refused after the exchange", async () => {
    const one = await beginLogin(door, '/oauth/login/idp');
    const two = await beginLogin(door, '/oauth/login/idp');
    // Login two's authorization request, sent with login one's nonce (as if an old ID token were being replayed into it).
    const authorize = new URL(two.authorizeUrl);
    authorize.searchParams.set('nonce', one.authorizeUrl.searchParams.get('nonce')!);
    const handoff = await idp.loginWith(authorize.toString(), 'alice');
    const idTokenInvalid = await loginsCounted('id_token_invalid');
    const res = await countedAs('login_failed', () => callbackCheck(door, handoff.url, new Map([...one.jar, ...two.jar])));
    expectRefused(res, 400, 'login_failed');
    assert.ok(!sessionCookieSet(res));
    assert.equal(await loginsCounted('id_token_invalid'), idTokenInvalid + 1);
  });

  test('login CSRF: a callback for a login this browser did not start is refused before any code exchange', async () => {
    // The attacker signs in with their own account and sends the victim the callback URL.
    const attacker = await beginLogin(door, '/oauth/login/idp');
    const handoff = await idp.loginWith(attacker.authorizeUrl.toString(), 'mallory');
    const victim = await beginLogin(door, '/oauth/login/idp'); // the victim has a flow of their own going
    const exchanges = idp.counts.token;
    for (const jar of [new Map<string, string>(), victim.jar, session]) {
      const res = await countedAs('login_failed', () => callbackCheck(door, handoff.url, jar));
      expectRefused(res, 400, 'login_failed');
      assert.ok(!sessionCookieSet(res));
    }
    assert.equal(idp.counts.token, exchanges, "the attacker's code was never exchanged");
  });

  test('a callback or login for a provider that does not exist → 404 login_failed', async () => {
    for (const name of ['idp%2Fx', 'idp;x']) {
      // An encoded slash or a path parameter: refused before any rule or flow (400).
      for (const path of [`/oauth/callback/${name}?code=c&state=s`, `/oauth/login/${name}`]) {
        expectRefused(await countedAs('bad_request', () => door.check({ path, headers: NAVIGATION })), 400, 'bad_request');
      }
    }
    for (const name of ['nope', '__proto__', 'constructor', 'toString', 'IDP', 'idp/extra', '']) {
      for (const path of [`/oauth/callback/${name}?code=c&state=s`, `/oauth/login/${name}`]) {
        const res = await countedAs('login_failed', () => door.check({ path, headers: NAVIGATION }));
        expectRefused(res, 404, 'login_failed');
        assert.ok(!sessionCookieSet(res));
      }
    }
  });

  test('forwarded headers cannot move the callback or drop Secure', async () => {
    const res = await door.check({
      path: '/oauth/login/idp',
      headers: { ...NAVIGATION, 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'http', forwarded: 'host=evil.example;proto=http', 'x-original-host': 'evil.example' },
    });
    expectRefused(res, 302, 'login_flow');
    const authorize = new URL(headerOf(res.denied_response?.headers, 'location') ?? '');
    assert.equal(authorize.origin, idp.issuer);
    assert.equal(authorize.searchParams.get('redirect_uri'), CALLBACK);
    for (const line of headersOf(res.denied_response?.headers, 'set-cookie')) assert.match(line, /;\s*Secure/i, line.split('=')[0]);
  });

  test('oversized and numerous cookies: bounded, decided, never a crash', async () => {
    const page = '/app/page';
    const api = { accept: 'application/json' };
    // Control: the session passes.
    expectAllowed(await door.check({ path: page, headers: { ...api, cookie: cookieHeader(session) } }));
    // A 16 KB forged session cookie.
    const forged = await countedAs('session_invalid', () => door.check({ path: page, headers: { ...api, cookie: `JWT=${'A'.repeat(16 * 1024)}` } }));
    expectRefused(forged, 401, 'session_invalid');
    // The real session next to 16 KB of other cookies still works (cookies are parsed, not rejected wholesale).
    expectAllowed(await door.check({ path: page, headers: { ...api, cookie: `pad=${'p'.repeat(16 * 1024)}; ${cookieHeader(session)}` } }));
    // 500 cookies before the session cookie: only the first 200 are looked at, so the session is not seen.
    const many = Array.from({ length: 500 }, (_, i) => `c${i}=v`).join('; ');
    const hidden = await countedAs('no_credentials', () => door.check({ path: page, headers: { ...api, cookie: `${many}; ${cookieHeader(session)}` } }));
    expectRefused(hidden, 401, 'no_credentials');
    // 500 forged login-state cookies on a callback: refused like any bad state.
    const states = Array.from({ length: 500 }, (_, i) => `OAUTH2_STATE_${i}=${'x'.repeat(20)}`).join('; ');
    const cb = await countedAs('login_failed', () => door.check({ path: '/oauth/callback/idp?code=c&state=s', headers: { ...NAVIGATION, cookie: states } }));
    expectRefused(cb, 400, 'login_failed');
    // The HTTP door: Node refuses a header section over 16 KB (431) before deciding, and carries on.
    const big = await fetch(`${httpDoor}/login`, { headers: { host: EXTERNAL_HOST, cookie: `JWT=${'A'.repeat(16 * 1024)}` } });
    assert.equal(big.status, 431);
    await big.arrayBuffer();
    assert.equal((await fetch(`${httpDoor}/login`, { headers: { host: EXTERNAL_HOST, accept: 'text/html' } })).status, 200);
    assert.equal(await door.client.health(''), 'SERVING');
  });
});
