/**
 * Login callbacks that must fail, through the real service (gRPC door) with
 * two real oidc-provider IdPs: wrong state, missing state, no state cookie,
 * replayed code, wrong nonce, a response from the other provider (mix-up),
 * and every open-redirect form as the return URL (all land on `/`).
 *
 * A failed callback never sets a session cookie and never redirects to the
 * original URL. Run with NODE_EXTRA_CA_CERTS=test/fixtures/tls/cert.pem.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cookiesFromSetCookie } from '../helpers/cookie-jar.js';
import { AT_EXTERNAL_URL, EXTERNAL_URL, NAVIGATION, startGrpcDoor, type GrpcDoor } from '../helpers/grpc-door.js';
import { headerOf, headersOf, type CheckResponseJs } from '../helpers/grpc-client.js';
import { beginLogin, callbackCheck } from '../helpers/login-session.js';
import { startOidcIdp, type OidcIdp } from '../helpers/oidc-idp.js';
import { TEST_CLIENT, oidcServiceYaml } from '../helpers/oidc-service-config.js';

const SECRET = 'rejections-e2e-secret-0123456789abcdef-xy';
const CALLBACK_A = `${EXTERNAL_URL}/oauth/callback/idp-a`;
const CALLBACK_B = `${EXTERNAL_URL}/oauth/callback/idp-b`;

/** A callback answer that must not log anyone in. */
function assertRejected(res: CheckResponseJs, original?: string): void {
  const d = res.denied_response;
  assert.ok(d, `expected a denial, got ${JSON.stringify(res)}`);
  assert.notEqual(res.status?.code ?? 0, 0);
  const session = cookiesFromSetCookie(headersOf(d.headers, 'set-cookie')).get('JWT');
  assert.ok(!session, 'no session cookie is set');
  const status = d.status?.code ?? 0;
  if (status === 302 && original) {
    assert.notEqual(new URL(headerOf(d.headers, 'location') ?? '/', EXTERNAL_URL).pathname, new URL(original, EXTERNAL_URL).pathname,
      'a failed login does not go on to the original page');
  } else {
    assert.ok(status === 302 || (status >= 400 && status < 500), `a client error or a redirect to log in again, got ${status}`);
  }
}

describe('login callback rejections (gRPC door, two IdPs)', () => {
  let dir: string;
  let idpA: OidcIdp;
  let idpB: OidcIdp;
  let door: GrpcDoor;
  /** Name of the query parameter the chooser uses to carry the return URL, learned from the service. */
  let returnParam: string;

  /** `/oauth/login/<provider>` → the IdP's authorization URL and the login-state cookies. */
  const startLogin = (provider: string, query = '') => beginLogin(door, `/oauth/login/${provider}${query}`);

  before(async () => {
    assert.ok(process.env.NODE_EXTRA_CA_CERTS, 'run with NODE_EXTRA_CA_CERTS=test/fixtures/tls/cert.pem (the test IdPs are HTTPS)');
    dir = await mkdtemp(join(tmpdir(), 'kauthz-reject-'));
    idpA = await startOidcIdp({ name: 'opa', clients: [{ ...TEST_CLIENT, redirect_uris: [CALLBACK_A] }] });
    // B also accepts A's callback for the same client id: the set-up of a mix-up attack (a malicious or compromised IdP).
    idpB = await startOidcIdp({ name: 'opb', clients: [{ ...TEST_CLIENT, redirect_uris: [CALLBACK_A, CALLBACK_B] }] });
    const configPath = join(dir, 'config.yaml');
    await writeFile(configPath, oidcServiceYaml({
      secret: SECRET, externalUrl: EXTERNAL_URL, dir, providers: { 'idp-a': idpA, 'idp-b': idpB }, authz: { default: 'authenticated' },
    }));
    door = await startGrpcDoor(configPath, AT_EXTERNAL_URL);

    // The chooser link carries the original URL in a query parameter; find its name rather than assume it.
    const toChooser = await door.check({ path: '/probe/here', headers: NAVIGATION });
    const chooser = new URL(headerOf(toChooser.denied_response?.headers, 'location') ?? '', EXTERNAL_URL);
    const found = [...chooser.searchParams].find(([, v]) => v === '/probe/here');
    assert.ok(found, `the chooser URL carries the original URL: ${chooser}`);
    returnParam = found[0];
  });

  after(async () => {
    await door?.close();
    await idpA?.stop();
    await idpB?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('a good login still works here (control), returning to the original URL', async () => {
    const { authorizeUrl, jar } = await startLogin('idp-a', `?${returnParam}=${encodeURIComponent('/app/ok?x=1')}`);
    const handoff = await idpA.loginWith(authorizeUrl.toString(), 'alice');
    const res = await callbackCheck(door, handoff.url, jar);
    assert.equal(res.denied_response?.status?.code, 302);
    assert.equal(new URL(headerOf(res.denied_response?.headers, 'location') ?? '', EXTERNAL_URL).toString(), `${EXTERNAL_URL}/app/ok?x=1`);
    assert.ok(cookiesFromSetCookie(headersOf(res.denied_response?.headers, 'set-cookie')).get('JWT'));
  });

  test('wrong state → rejected before the code is exchanged', async () => {
    const { authorizeUrl, jar } = await startLogin('idp-a');
    const handoff = new URL(await idpA.loginWith(authorizeUrl.toString(), 'alice').then((h) => h.url));
    handoff.searchParams.set('state', `${handoff.searchParams.get('state')}x`);
    const exchanges = idpA.counts.token;
    assertRejected(await callbackCheck(door, handoff.toString(), jar));
    assert.equal(idpA.counts.token, exchanges, 'the code was not sent to the IdP');
  });

  test('missing state parameter, and a state without its cookie → rejected', async () => {
    const { authorizeUrl, jar } = await startLogin('idp-a');
    const handoff = new URL((await idpA.loginWith(authorizeUrl.toString(), 'alice')).url);
    const exchanges = idpA.counts.token;
    const noState = new URL(handoff);
    noState.searchParams.delete('state');
    assertRejected(await callbackCheck(door, noState.toString(), jar));
    // Login CSRF: a callback the browser did not start (no state cookie).
    assertRejected(await callbackCheck(door, handoff.toString(), new Map()));
    assert.equal(idpA.counts.token, exchanges, 'no code was sent to the IdP');
  });

  test('replayed code → the second callback is rejected', async () => {
    const { authorizeUrl, jar } = await startLogin('idp-a');
    const handoff = await idpA.loginWith(authorizeUrl.toString(), 'alice');
    const first = await callbackCheck(door, handoff.url, jar);
    assert.ok(cookiesFromSetCookie(headersOf(first.denied_response?.headers, 'set-cookie')).get('JWT'), 'the first use logs in');
    // An attacker (or a double-submitting browser) replays the same callback with the same state cookie.
    assertRejected(await callbackCheck(door, handoff.url, jar));
  });

  test('wrong nonce in the ID token → rejected', async () => {
    const { authorizeUrl, jar } = await startLogin('idp-a');
    // The IdP echoes whatever nonce it was asked for; swap it before the browser reaches the IdP.
    authorizeUrl.searchParams.set('nonce', 'attacker-chosen-nonce-0123456789');
    const handoff = await idpA.loginWith(authorizeUrl.toString(), 'alice');
    const exchanges = idpA.counts.token;
    assertRejected(await callbackCheck(door, handoff.url, jar));
    assert.equal(idpA.counts.token, exchanges + 1, 'the code was exchanged; the ID token was then refused');
  });

  test('a response from the other provider (mix-up) → rejected', async () => {
    // Login started for A, but the authorization request is answered by B (same client id, A's callback registered there).
    const { authorizeUrl, jar } = await startLogin('idp-a');
    const atB = new URL(authorizeUrl.pathname + authorizeUrl.search, idpB.issuer);
    const handoff = await idpB.loginWith(atB.toString(), 'alice');
    assert.equal(new URL(handoff.url).pathname, '/oauth/callback/idp-a');
    assertRejected(await callbackCheck(door, handoff.url, jar));

    // And B's own callback (state and code of a B login) presented at A's callback.
    const b = await startLogin('idp-b');
    const handoffB = new URL((await idpB.loginWith(b.authorizeUrl.toString(), 'alice')).url);
    const crossed = new URL(`/oauth/callback/idp-a${handoffB.search}`, EXTERNAL_URL);
    assertRejected(await callbackCheck(door, crossed.toString(), b.jar));
  });

  for (const evil of ['//evil.example/x', '/\\evil.example/x', 'https://evil.example/x', 'javascript:alert(1)', '/%2F%2Fevil.example', '/\t/evil.example']) {
    test(`open redirect: return URL ${JSON.stringify(evil)} lands on /`, async () => {
      const { authorizeUrl, jar } = await startLogin('idp-a', `?${returnParam}=${encodeURIComponent(evil)}`);
      const handoff = await idpA.loginWith(authorizeUrl.toString(), 'alice');
      const res = await callbackCheck(door, handoff.url, jar);
      assert.equal(res.denied_response?.status?.code, 302, JSON.stringify(res));
      const location = headerOf(res.denied_response?.headers, 'location') ?? '';
      const target = new URL(location, EXTERNAL_URL);
      assert.equal(target.origin, EXTERNAL_URL, `Location ${location} stays on our origin`);
      assert.equal(target.pathname, '/', `Location ${location} is /`);
      assert.ok(cookiesFromSetCookie(headersOf(res.denied_response?.headers, 'set-cookie')).get('JWT'), 'the login itself succeeds');
    });
  }

  test('open redirect through the original request itself: //evil stays on our origin, /\\evil is refused (400)', async () => {
    // A backslash in the path is read as '/' by some parsers: refused before any rule or redirect.
    assert.equal((await door.check({ path: '/\\evil.example/x', headers: NAVIGATION })).denied_response?.status?.code, 400);
    for (const path of ['//evil.example/x']) {
      const start = await door.check({ path, headers: NAVIGATION });
      assert.equal(start.denied_response?.status?.code, 302);
      const chooser = new URL(headerOf(start.denied_response?.headers, 'location') ?? '', EXTERNAL_URL);
      assert.equal(chooser.origin, EXTERNAL_URL);
      const kept = chooser.searchParams.get(returnParam) ?? '/';
      assert.equal(new URL(kept, EXTERNAL_URL).origin, EXTERNAL_URL, `return URL ${kept} stays on our origin`);
    }
  });
});
