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
import { loadConfigFile } from '../../src/config/load-config.js';
import { createLogger } from '../../src/observability/logger.js';
import { startService, type RunningService } from '../../src/server/service.js';
import { envoyCheckRequest, type EnvoyCheckRequestInit } from '../helpers/envoy-check-request.js';
import { createAuthzClient, headerOf, headersOf, type AuthzClient, type CheckResponseJs } from '../helpers/grpc-client.js';
import { startOidcIdp, type IdpAgent, type OidcIdp } from '../helpers/oidc-idp.js';

const EXTERNAL = 'https://kestra.example.com';
const SECRET = 'refresh-e2e-secret-0123456789abcdef-xyz';
const CLIENT = { client_id: 'kestra', client_secret: 'kestra-secret-for-tests-only' };
const TOKEN_TTL_SECONDS = 2;
const BROWSER = { accept: 'text/html,*/*;q=0.8', 'sec-fetch-mode': 'navigate' };
const API = { accept: 'application/json' };

function cookiesSet(lines: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of lines) {
    const [pair = ''] = line.split(';');
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    const cleared = /;\s*max-age=0\b/i.test(line) || /;\s*expires=thu, 01 jan 1970/i.test(line);
    out.set(pair.slice(0, eq).trim(), cleared ? '' : pair.slice(eq + 1).trim());
  }
  return out;
}

function merge(jar: Map<string, string>, lines: readonly string[]): Map<string, string> {
  for (const [name, value] of cookiesSet(lines)) jar.set(name, value);
  return jar;
}

const cookieHeader = (jar: ReadonlyMap<string, string>) =>
  [...jar].filter(([, v]) => v !== '').map(([n, v]) => `${n}=${v}`).join('; ');

describe('session refresh through the gRPC door', () => {
  let dir: string;
  let idp: OidcIdp;
  let service: RunningService;
  let client: AuthzClient;
  const check = (init: EnvoyCheckRequestInit): Promise<CheckResponseJs> =>
    client.check(envoyCheckRequest({ host: 'kestra.example.com', scheme: 'https', ...init }));

  /** A full login through Check; returns the cookie jar and the IdP agent (which holds the IdP session). */
  async function login(user: string): Promise<{ jar: Map<string, string>; agent: IdpAgent }> {
    let start = await check({ path: '/app/home', headers: BROWSER });
    assert.equal(start.denied_response?.status?.code, 302, JSON.stringify(start));
    // One provider: possibly via our own /oauth/login/idp-a first, as a browser would follow it.
    const hop = new URL(headerOf(start.denied_response?.headers, 'location') ?? '', EXTERNAL);
    if (hop.origin === EXTERNAL) {
      start = await check({ path: hop.pathname + hop.search, headers: BROWSER });
      assert.equal(start.denied_response?.status?.code, 302, JSON.stringify(start));
    }
    const jar = merge(new Map(), headersOf(start.denied_response?.headers, 'set-cookie'));
    const agent = idp.newAgent();
    const handoff = await agent.login(headerOf(start.denied_response?.headers, 'location') ?? '', user);
    const callback = new URL(handoff.url);
    const done = await check({ path: callback.pathname + callback.search, headers: { ...BROWSER, cookie: cookieHeader(jar) } });
    assert.equal(done.denied_response?.status?.code, 302, JSON.stringify(done));
    merge(jar, headersOf(done.denied_response?.headers, 'set-cookie'));
    assert.ok(jar.get('JWT'), 'logged in');
    return { jar, agent };
  }

  before(async () => {
    assert.ok(process.env.NODE_EXTRA_CA_CERTS, 'run with NODE_EXTRA_CA_CERTS=test/fixtures/tls/cert.pem (the test IdP is HTTPS)');
    dir = await mkdtemp(join(tmpdir(), 'kauthz-refresh-'));
    idp = await startOidcIdp({
      name: 'opr',
      clients: [{ ...CLIENT, redirect_uris: [`${EXTERNAL}/oauth/callback/idp-a`], post_logout_redirect_uris: [`${EXTERNAL}/logout`, `${EXTERNAL}/`] }],
      users: { carol: { preferred_username: 'carol', groups: ['before-refresh'] } },
      accessTokenTtl: TOKEN_TTL_SECONDS,
      idTokenTtl: TOKEN_TTL_SECONDS,
      refresh: true,
      rotateRefreshTokens: true,
    });
    const configPath = join(dir, 'config.yaml');
    await writeFile(configPath, `
kestra:
  encryption: { secret-key: "${SECRET}" }
  security:
    oidc: { groups-claim-path: groups }
micronaut:
  security:
    oauth2:
      enabled: true
      clients:
        idp-a:
          client-id: ${CLIENT.client_id}
          client-secret: ${CLIENT.client_secret}
          scopes: [openid, profile, groups]
          openid: { issuer: "${idp.issuer}" }
authz:
  external-url: ${EXTERNAL}
  listen: { grpc: 127.0.0.1:0, http: 127.0.0.1:0, management: 127.0.0.1:0 }
  users: { file: ${join(dir, 'users.yaml')} }
  default: authenticated
  log: { level: silent }
`);
    service = await startService(await loadConfigFile(configPath), { logger: createLogger('silent') });
    client = createAuthzClient(service.grpcPort);
  });

  after(async () => {
    client?.close();
    await service?.close();
    await idp?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('20 concurrent Checks with the same expired session → all allowed, one refresh grant at the IdP', async () => {
    const { jar } = await login('carol');
    assert.ok([...jar.keys()].some((n) => n !== 'JWT' && n.startsWith('JWT') && jar.get(n)), 'a refresh-token cookie was set');
    const fresh = await check({ path: '/app/home', headers: { ...API, cookie: cookieHeader(jar) } });
    assert.equal(fresh.status?.code ?? 0, 0, JSON.stringify(fresh));
    assert.equal(idp.counts.refresh, 0, 'no refresh while the tokens are valid');

    await sleep((TOKEN_TTL_SECONDS + 1.5) * 1000);
    const cookie = cookieHeader(jar);
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) =>
      check({ path: `/app/item/${i}`, headers: { ...API, cookie } })));

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
    const jarAfter = merge(new Map(jar), renewed.find((lines) => lines.some((l) => l.startsWith('JWT='))) ?? []);
    assert.notEqual(jarAfter.get('JWT'), jar.get('JWT'));

    // The renewed session is used without another refresh.
    const next = await check({ path: '/app/home', headers: { ...API, cookie: cookieHeader(jarAfter) } });
    assert.equal(next.status?.code ?? 0, 0, JSON.stringify(next));
    assert.equal(idp.counts.refresh, 1);
  });

  test('a refresh the IdP refuses (logged out there) → logged out here: redirect for a page, 401 for an API', async () => {
    const { jar, agent } = await login('carol');
    // The user signs out at the IdP: oidc-provider drops the grant, so the refresh token dies with it.
    await agent.logout(`${idp.issuer}/session/end?client_id=${CLIENT.client_id}`);
    const refreshesBefore = idp.counts.refresh;

    await sleep((TOKEN_TTL_SECONDS + 1.5) * 1000);
    const cookie = cookieHeader(jar);
    const page = await check({ path: '/app/home', headers: { ...BROWSER, cookie } });
    assert.equal(page.denied_response?.status?.code, 302, `navigation goes back to the login: ${JSON.stringify(page)}`);
    const relogin = new URL(headerOf(page.denied_response?.headers, 'location') ?? '', EXTERNAL);
    assert.ok(relogin.origin === idp.issuer || relogin.pathname.startsWith('/oauth/login/') || relogin.pathname === '/login',
      `to a login, got ${relogin}`);
    assert.ok(!cookiesSet(headersOf(page.denied_response?.headers, 'set-cookie')).get('JWT'), 'no new session');
    assert.ok(idp.counts.refresh > refreshesBefore, 'the refresh was tried at the IdP');
    assert.ok(idp.counts.refreshFailed >= 1, 'and refused there');

    const api = await check({ path: '/app/data', headers: { ...API, cookie } });
    assert.equal(api.denied_response?.status?.code, 401, JSON.stringify(api));
  });
});
