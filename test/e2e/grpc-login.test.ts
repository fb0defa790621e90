/**
 * Browser login completed through the gRPC door only, as Envoy carries it:
 * every step is an Envoy-shaped CheckRequest to the real service; the IdP is
 * a real oidc-provider over HTTPS, walked by an HTTP client (no browser).
 *
 *   navigation, no cookie ─Check→ denied 302 → IdP (+ Set-Cookie login state)
 *   IdP login + consent (HTTP client) → redirect to /oauth/callback/<p>?code&state
 *   callback ─Check→ denied 302 → original URL (+ Set-Cookie session)
 *   navigation with the session ─Check→ OK, identity headers, our cookies stripped
 *
 * Run with NODE_EXTRA_CA_CERTS=test/fixtures/tls/cert.pem (the IdP is HTTPS).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cookieHeader, cookiesFromSetCookie } from '../helpers/cookie-jar.js';
import {
  AT_EXTERNAL_URL, EXTERNAL_URL, NAVIGATION, expectAllowed, expectDenied, startGrpcDoor, type GrpcDoor,
} from '../helpers/grpc-door.js';
import { headerOf, headersOf } from '../helpers/grpc-client.js';
import { beginLogin, beginLoginAtPage, finishLogin, followToProvider } from '../helpers/login-session.js';
import { startOidcIdp, type OidcIdp } from '../helpers/oidc-idp.js';
import { PROFILE_SCOPES, TEST_CLIENT as CLIENT, oidcServiceYaml } from '../helpers/oidc-service-config.js';

const SECRET = 'grpc-login-e2e-secret-0123456789abcdef';

async function startHarness(dir: string, name: string, providers: Record<string, OidcIdp>): Promise<GrpcDoor> {
  const path = join(dir, `${name}.yaml`);
  await writeFile(path, oidcServiceYaml({
    secret: SECRET,
    externalUrl: EXTERNAL_URL,
    dir,
    providers,
    scopes: PROFILE_SCOPES,
    security: { oidc: { 'groups-claim-path': 'groups' }, 'default-role': { name: 'viewer', permissions: { FLOW: ['READ'] } } },
    authz: { rules: [{ match: { path: '/app/**' }, allow: 'authenticated' }] },
  }));
  return startGrpcDoor(path, AT_EXTERNAL_URL);
}

const clients = (names: readonly string[]) =>
  [{ ...CLIENT, redirect_uris: names.map((n) => `${EXTERNAL_URL}/oauth/callback/${n}`), post_logout_redirect_uris: [`${EXTERNAL_URL}/logout`, `${EXTERNAL_URL}/`] }];

describe('browser login through the gRPC door (one provider)', () => {
  let dir: string;
  let idp: OidcIdp;
  let harness: GrpcDoor;

  before(async () => {
    assert.ok(process.env.NODE_EXTRA_CA_CERTS, 'run with NODE_EXTRA_CA_CERTS=test/fixtures/tls/cert.pem (the test IdP is HTTPS)');
    dir = await mkdtemp(join(tmpdir(), 'kauthz-grpc-login-'));
    idp = await startOidcIdp({
      name: 'opa',
      clients: clients(['idp-a']),
      users: { alice: { preferred_username: 'alice', email: 'alice@example.com', email_verified: true, groups: ['kestra-devs', 'ops'] } },
    });
    harness = await startHarness(dir, 'one', { 'idp-a': idp });
  });

  after(async () => {
    await harness?.close();
    await idp?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('XHR / API requests without a session get 401, not a redirect', async () => {
    const res = await harness.check({ path: '/app/data', headers: { accept: 'application/json', 'x-requested-with': 'XMLHttpRequest' } });
    expectDenied(res, 401);
    assert.equal(headerOf(res.denied_response?.headers, 'location'), undefined);
  });

  test('navigation → IdP → callback → session → allowed with identity headers, our cookies stripped', async () => {
    const original = '/app/flows?tab=all&page=2';

    // 1. A browser navigation without a session: to the one provider (possibly via our /oauth/login/idp-a).
    const { response: first, authorizeUrl, jar } = await beginLoginAtPage(harness, original);
    assert.equal(authorizeUrl.origin, idp.issuer);
    assert.equal(authorizeUrl.searchParams.get('response_type'), 'code');
    assert.equal(authorizeUrl.searchParams.get('code_challenge_method'), 'S256');
    assert.ok(authorizeUrl.searchParams.get('state'));
    assert.ok(authorizeUrl.searchParams.get('nonce'));
    assert.equal(authorizeUrl.searchParams.get('redirect_uri'), `${EXTERNAL_URL}/oauth/callback/idp-a`);
    const stateLines = headersOf(first.headers, 'set-cookie');
    assert.ok(stateLines.length >= 1, 'the login state travels in a cookie');
    for (const line of stateLines) {
      assert.match(line, /;\s*HttpOnly/i);
      assert.match(line, /;\s*Secure/i, 'external URL is https');
      const maxAge = /;\s*max-age=(\d+)/i.exec(line);
      if (maxAge) assert.ok(Number(maxAge[1]) <= 300, 'login state lives at most 5 minutes');
    }

    // 2. The IdP's login and consent forms, walked by an HTTP client.
    const handoff = await idp.loginWith(authorizeUrl.toString(), 'alice');
    const callback = new URL(handoff.url);
    assert.equal(callback.origin + callback.pathname, `${EXTERNAL_URL}/oauth/callback/idp-a`);
    assert.ok(callback.searchParams.get('code'));

    // 3. The callback, as Envoy asks about it: a denied 302 carrying the session.
    const done = await finishLogin(harness, callback.toString(), jar);
    const back = new URL(headerOf(done.headers, 'location') ?? '', EXTERNAL_URL);
    assert.equal(back.origin, EXTERNAL_URL);
    assert.equal(back.pathname + back.search, original);
    const sessionLines = headersOf(done.headers, 'set-cookie');
    const session = sessionLines.find((l) => l.startsWith('JWT='));
    assert.ok(session, `a session cookie named JWT, got ${sessionLines.map((l) => l.split('=')[0]).join(', ')}`);
    assert.match(session, /;\s*HttpOnly/i);
    assert.match(session, /;\s*Secure/i);
    assert.match(session, /;\s*SameSite=Lax/i);
    assert.ok(Buffer.byteLength(session) < 4096, 'cookie stays under 4 KB with its attributes');
    assert.equal(jar.get('JWT'), cookiesFromSetCookie(sessionLines).get('JWT'));
    assert.ok(jar.get('JWT'));

    // 4. The next navigation carries the session: allowed, identity upstream, our cookies gone.
    const ok = expectAllowed(await harness.check({
      path: original,
      headers: { ...NAVIGATION, cookie: cookieHeader(jar, 'theme=dark'), 'x-kestra-user': 'mallory' },
    }));
    assert.equal(headerOf(ok.headers, 'x-kestra-user'), 'alice');
    assert.equal(headerOf(ok.headers, 'x-kestra-email'), 'alice@example.com');
    assert.deepEqual(headerOf(ok.headers, 'x-kestra-groups')?.split(',').sort(), ['kestra-devs', 'ops']);
    const upstreamCookie = headerOf(ok.headers, 'cookie');
    assert.equal(upstreamCookie, 'theme=dark', 'only the cookies that are not ours go upstream');
    assert.equal(idp.counts.token, 1);
  });

  test('a session cookie from another secret is not accepted (navigation → login again)', async () => {
    const res = await harness.check({ path: '/app/x', headers: { ...NAVIGATION, cookie: 'JWT=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJtYWxsb3J5In0.c2lnbmF0dXJl' } });
    const d = await followToProvider(harness, expectDenied(res, 302));
    assert.equal(new URL(headerOf(d.headers, 'location') ?? '').origin, idp.issuer);
  });
});

describe('browser login through the gRPC door (two providers)', () => {
  let dir: string;
  let idpA: OidcIdp;
  let idpB: OidcIdp;
  let harness: GrpcDoor;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kauthz-grpc-login2-'));
    idpA = await startOidcIdp({ name: 'opa', clients: clients(['idp-a']) });
    idpB = await startOidcIdp({ name: 'opb', clients: clients(['idp-b']), users: { bob: { preferred_username: 'bob', groups: ['b-team'] } } });
    harness = await startHarness(dir, 'two', { 'idp-a': idpA, 'idp-b': idpB });
  });

  after(async () => {
    await harness?.close();
    await idpA?.stop();
    await idpB?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('a navigation goes to the chooser; /oauth/login/idp-b starts B; the login completes through Check', async () => {
    const original = '/app/reports';
    const toChooser = expectDenied(await harness.check({ path: original, headers: NAVIGATION }), 302);
    const chooser = new URL(headerOf(toChooser.headers, 'location') ?? '', EXTERNAL_URL);
    assert.equal(chooser.origin, EXTERNAL_URL);
    assert.equal(chooser.pathname, '/login');

    // What the chooser's "provider B" link asks for, carrying the original URL along.
    const { authorizeUrl, jar } = await beginLogin(harness, `/oauth/login/idp-b${chooser.search}`);
    assert.equal(authorizeUrl.origin, idpB.issuer);

    const handoff = await idpB.loginWith(authorizeUrl.toString(), 'bob');
    const callback = new URL(handoff.url);
    assert.equal(callback.pathname, '/oauth/callback/idp-b');
    const done = await finishLogin(harness, callback.toString(), jar);
    const back = new URL(headerOf(done.headers, 'location') ?? '', EXTERNAL_URL);
    assert.equal(back.origin, EXTERNAL_URL);
    assert.equal(back.pathname, original);

    const ok = expectAllowed(await harness.check({ path: original, headers: { ...NAVIGATION, cookie: cookieHeader(jar) } }));
    assert.equal(headerOf(ok.headers, 'x-kestra-user'), 'bob');
    assert.equal(headerOf(ok.headers, 'x-kestra-groups'), 'b-team');
    assert.ok(ok.headers_to_remove?.includes('cookie') || headerOf(ok.headers, 'cookie') === undefined,
      'nothing but our cookies was sent, so no cookie header goes upstream');
    assert.equal(idpA.counts.token, 0);
    assert.equal(idpB.counts.token, 1);
  });
});
