/**
 * Session refresh through the gRPC door against a real oidc-provider issuing
 * short-lived, one-time (rotating) refresh tokens:
 * - 20 concurrent Checks with the same expired session → all allowed, the new
 *   cookies ride on the client response, and the IdP saw exactly one refresh
 *   grant (single-flight: with one-time refresh tokens a second grant would
 *   fail and log the user out);
 * - a refresh the IdP refuses (the user logged out there) → logged out here:
 *   navigation redirected to the login, API call 401.
 *
 * Waiting for a token to expire is a sleep, never an assertion on time.
 * Run with NODE_EXTRA_CA_CERTS=test/fixtures/tls/cert.pem.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { cookieHeader, cookiesFromSetCookie, mergeSetCookie, type CookieJar } from '../helpers/cookie-jar.js';
import { AT_EXTERNAL_URL, EXTERNAL_URL, NAVIGATION, startGrpcDoor, type GrpcDoor } from '../helpers/grpc-door.js';
import { headerOf, headersOf } from '../helpers/grpc-client.js';
import { loginThroughGrpcDoor } from '../helpers/login-session.js';
import { startOidcIdp, type IdpAgent, type OidcIdp } from '../helpers/oidc-idp.js';
import { TEST_CLIENT, oidcServiceYaml } from '../helpers/oidc-service-config.js';

const SECRET = 'refresh-e2e-secret-0123456789abcdef-xyz';
const TOKEN_TTL_SECONDS = 2;
const API = { accept: 'application/json' };

describe('session refresh through the gRPC door', () => {
  let dir: string;
  let idp: OidcIdp;
  let door: GrpcDoor;

  /** A full login through Check; returns the cookie jar and the IdP agent (which holds the IdP session). */
  async function login(user: string): Promise<{ jar: CookieJar; agent: IdpAgent }> {
    const agent = idp.newAgent();
    const jar = await loginThroughGrpcDoor(door, '/app/home', (authorizeUrl) => agent.login(authorizeUrl, user));
    return { jar, agent };
  }

  before(async () => {
    assert.ok(process.env.NODE_EXTRA_CA_CERTS, 'run with NODE_EXTRA_CA_CERTS=test/fixtures/tls/cert.pem (the test IdP is HTTPS)');
    dir = await mkdtemp(join(tmpdir(), 'kauthz-refresh-'));
    idp = await startOidcIdp({
      name: 'opr',
      clients: [{ ...TEST_CLIENT, redirect_uris: [`${EXTERNAL_URL}/oauth/callback/idp-a`], post_logout_redirect_uris: [`${EXTERNAL_URL}/logout`, `${EXTERNAL_URL}/`] }],
      users: { carol: { preferred_username: 'carol', groups: ['before-refresh'] } },
      accessTokenTtl: TOKEN_TTL_SECONDS,
      idTokenTtl: TOKEN_TTL_SECONDS,
      refresh: true,
      rotateRefreshTokens: true,
    });
    const configPath = join(dir, 'config.yaml');
    await writeFile(configPath, oidcServiceYaml({
      secret: SECRET,
      externalUrl: EXTERNAL_URL,
      dir,
      providers: { 'idp-a': idp },
      scopes: ['openid', 'profile', 'groups'],
      security: { oidc: { 'groups-claim-path': 'groups' } },
      authz: { default: 'authenticated' },
    }));
    door = await startGrpcDoor(configPath, AT_EXTERNAL_URL);
  });

  after(async () => {
    await door?.close();
    await idp?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('20 concurrent Checks with the same expired session → all allowed, one refresh grant at the IdP', async () => {
    const { jar } = await login('carol');
    assert.ok([...jar.keys()].some((n) => n !== 'JWT' && n.startsWith('JWT') && jar.get(n)), 'a refresh-token cookie was set');
    const fresh = await door.check({ path: '/app/home', headers: { ...API, cookie: cookieHeader(jar) } });
    assert.equal(fresh.status?.code ?? 0, 0, JSON.stringify(fresh));
    assert.equal(idp.counts.refresh, 0, 'no refresh while the tokens are valid');

    await sleep((TOKEN_TTL_SECONDS + 1.5) * 1000);
    const cookie = cookieHeader(jar);
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) =>
      door.check({ path: `/app/item/${i}`, headers: { ...API, cookie } })));

    for (const res of answers) {
      assert.equal(res.status?.code ?? 0, 0, `every concurrent Check is allowed: ${JSON.stringify(res)}`);
      assert.equal(headerOf(res.ok_response?.headers, 'x-kestra-user'), 'carol');
    }
    assert.equal(idp.counts.refresh, 1, 'exactly one refresh grant at the IdP');
    assert.equal(idp.counts.refreshFailed, 0);

    // The new cookies ride on the client response (response_headers_to_add).
    const renewed = answers.map((res) => (res.ok_response?.response_headers_to_add ?? [])
      .filter((h) => h.header.key.toLowerCase() === 'set-cookie').map((h) => h.header.value));
    assert.ok(renewed.some((lines) => lines.some((l) => l.startsWith('JWT='))), 'a renewed session cookie is sent to the client');
    const jarAfter = mergeSetCookie(new Map(jar), renewed.find((lines) => lines.some((l) => l.startsWith('JWT='))) ?? []);
    assert.notEqual(jarAfter.get('JWT'), jar.get('JWT'));

    // The renewed session is used without another refresh.
    const next = await door.check({ path: '/app/home', headers: { ...API, cookie: cookieHeader(jarAfter) } });
    assert.equal(next.status?.code ?? 0, 0, JSON.stringify(next));
    assert.equal(idp.counts.refresh, 1);
  });

  test('a refresh the IdP refuses (logged out there) → logged out here: redirect for a page, 401 for an API', async () => {
    const { jar, agent } = await login('carol');
    // The user signs out at the IdP: oidc-provider drops the grant, so the refresh token dies with it.
    await agent.logout(`${idp.issuer}/session/end?client_id=${TEST_CLIENT.client_id}`);
    const refreshesBefore = idp.counts.refresh;

    await sleep((TOKEN_TTL_SECONDS + 1.5) * 1000);
    const cookie = cookieHeader(jar);
    const page = await door.check({ path: '/app/home', headers: { ...NAVIGATION, cookie } });
    assert.equal(page.denied_response?.status?.code, 302, `navigation goes back to the login: ${JSON.stringify(page)}`);
    const relogin = new URL(headerOf(page.denied_response?.headers, 'location') ?? '', EXTERNAL_URL);
    assert.ok(relogin.origin === idp.issuer || relogin.pathname.startsWith('/oauth/login/') || relogin.pathname === '/login',
      `to a login, got ${relogin}`);
    assert.ok(!cookiesFromSetCookie(headersOf(page.denied_response?.headers, 'set-cookie')).get('JWT'), 'no new session');
    assert.ok(idp.counts.refresh > refreshesBefore, 'the refresh was tried at the IdP');
    assert.ok(idp.counts.refreshFailed >= 1, 'and refused there');

    const api = await door.check({ path: '/app/data', headers: { ...API, cookie } });
    assert.equal(api.denied_response?.status?.code, 401, JSON.stringify(api));
  });
});
