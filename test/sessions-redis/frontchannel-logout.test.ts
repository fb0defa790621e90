/**
 * OpenID Connect Front-Channel Logout, for both session stores shared by two
 * `serve` replicas: real Chromium opens an "IdP logout page" (a tiny HTTP
 * server on another site) that frames
 * `/oauth/frontchannel-logout/idp-a?iss=…&sid=…` of replica b; the sessions
 * of that IdP session are then refused on both replicas, other sessions live.
 * oidc-provider has no front-channel logout of its own: it only issues the
 * ID tokens carrying `sid` (backchannel_logout_session_required).
 *
 * The attacker's side: a wrong issuer, a missing or repeated parameter, an
 * unknown provider, another method end nothing; nothing from the URL is
 * reflected into the page; a browser's cookies are cleared only when its
 * session is the one named.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { browserSkipReason, launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { startOidcIdp, type OidcIdp } from '../helpers/oidc-idp.js';
import { refusedOnEvery, stopReplicas } from '../attacks/session-end-fixture.js';
import { BROWSER, CLIENT, EXTERNAL, SHARED_REDIS, cookieHeader, login, redisSkipReason, startReplica, testPrefix, whoAmI, type Jar, type Replica } from './redis-fixture.js';

const skip = (await redisSkipReason()) || (await browserSkipReason());
const SECRET = 'fcl-secret-0123456789abcdef-0123456789';
const PROVIDER = 'idp-a';

/** The IdP's logout page: one iframe per RP URL, on its own site (127.0.0.1; the RP is framed as localhost). */
async function startLogoutPage(): Promise<{ url: string; frame(urls: readonly string[]): void; stop(): Promise<void> }> {
  let html = '';
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(html);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const attr = (value: string) => value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/logout`,
    frame(urls) {
      html = `<!doctype html><title>Signed out</title>${urls.map((u) => `<iframe src="${attr(u)}"></iframe>`).join('')}`;
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const STORES: ReadonlyArray<readonly [string, (prefix: string) => string]> = [
  ['redis', (prefix) => `{ store: redis, url: "${SHARED_REDIS}", prefix: "${prefix}" }`],
  ['cookie, revocations shared through Redis', (prefix) => `{ store: cookie, revocations: { url: "${SHARED_REDIS}", prefix: "${prefix}" } }`],
];

for (const [storeName, sessionsOf] of STORES) {
  describe(`front-channel logout, ${storeName} store (two replicas, real Chromium)`, { skip }, () => {
    const prefix = testPrefix();
    let dir: string;
    let idp: OidcIdp;
    let a: Replica;
    let b: Replica;
    let sidOptional: Replica;
    let page: Awaited<ReturnType<typeof startLogoutPage>>;
    let chromium: TestBrowser;

    const frontchannelUrl = (replica: Replica, query: string, provider = PROVIDER) =>
      `http://localhost:${replica.httpPort}/oauth/frontchannel-logout/${provider}${query ? `?${query}` : ''}`;
    const idpQuery = (sid: string, iss = idp.issuer) => new URLSearchParams({ iss, sid }).toString();
    const sidOf = (user: string) => {
      const sid = idp.sessionIds.get(user);
      assert.ok(sid, `the IdP recorded a session id for ${user}`);
      return sid;
    };
    const get = async (url: string, jar?: Jar, init: RequestInit = {}) => {
      const res = await fetch(url, { redirect: 'manual', ...init, headers: { ...BROWSER, ...(jar ? { cookie: cookieHeader(jar) } : {}) } });
      return { status: res.status, headers: res.headers, body: await res.text() };
    };
    const stillIn = async (jar: Jar, user: string) => {
      for (const replica of [a, b]) assert.deepEqual(await whoAmI(replica, jar), { user }, `${user} is still logged in on ${replica.name}`);
    };

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'kauthz-fcl-'));
      idp = await startOidcIdp({
        name: `opfcl${STORES.findIndex(([n]) => n === storeName)}`,
        clients: [{
          ...CLIENT,
          redirect_uris: [`${EXTERNAL}/oauth/callback/${PROVIDER}`],
          backchannel_logout_uri: `${EXTERNAL}/oauth/backchannel-logout/${PROVIDER}`,
          backchannel_logout_session_required: true,
        }],
      });
      const sessions = sessionsOf(prefix);
      a = await startReplica({ dir, name: 'a', idp, secret: SECRET, sessions });
      b = await startReplica({ dir, name: 'b', idp, secret: SECRET, sessions });
      sidOptional = await startReplica({ dir, name: 'c', idp, secret: SECRET, sessions, authz: `oidc: { frontchannel-logout-sid-optional-clients: [${PROVIDER}] }` });
      page = await startLogoutPage();
      chromium = await launchBrowser();
    });

    after(async () => {
      await chromium?.close();
      await page?.stop();
      await stopReplicas([a, b, sidOptional], idp, prefix, dir);
    });

    test('the IdP logout page framing our URL ends that IdP session on every replica; another session lives', async () => {
      const fay = await login(a, idp, 'fay');
      const gus = await login(a, idp, 'gus');
      await stillIn(fay, 'fay');
      const url = frontchannelUrl(b, idpQuery(sidOf('fay')));

      const context = await chromium.newContext();
      try {
        const tab = await context.newPage();
        const framed = tab.waitForResponse((r) => r.url() === url);
        page.frame([url]);
        await tab.goto(page.url);
        const answer = await framed;
        assert.equal(answer.status(), 200);
        assert.equal(answer.headers()['cache-control'], 'no-store');
        const frame = tab.frames().find((f) => f.url() === url);
        assert.ok(frame, 'the logout page framed our URL (not blocked by frame-ancestors / X-Frame-Options)');
        assert.match(await frame.content(), /Logged out/);
      } finally {
        await context.close();
      }

      await refusedOnEvery([a, b], fay, 'after the IdP logout page');
      await stillIn(gus, 'gus');
    });

    test('wrong issuer, missing or repeated iss/sid, unknown provider, POST: refused, nothing ends', async () => {
      const fay = await login(a, idp, 'fay');
      const sid = sidOf('fay');
      const cases: Array<[string, string, number]> = [
        ['another issuer', frontchannelUrl(b, idpQuery(sid, 'https://evil.example.com')), 400],
        ['the issuer with a trailing slash', frontchannelUrl(b, idpQuery(sid, `${idp.issuer}/`)), 400],
        ['sid without iss', frontchannelUrl(b, new URLSearchParams({ sid }).toString()), 400],
        ['iss without sid', frontchannelUrl(b, new URLSearchParams({ iss: idp.issuer }).toString()), 400],
        ['neither (session required)', frontchannelUrl(b, ''), 400],
        ['sid twice', frontchannelUrl(b, `${idpQuery(sid)}&sid=other`), 400],
        ['unknown provider', frontchannelUrl(b, idpQuery(sid), 'nobody'), 404],
        ['a provider path with a slash', frontchannelUrl(b, idpQuery(sid), `${PROVIDER}/x`), 404],
      ];
      for (const [what, url, status] of cases) {
        const res = await get(url, fay);
        assert.equal(res.status, status, `${what}: ${res.body}`);
        assert.deepEqual(res.headers.getSetCookie(), [], `${what}: no cookie touched`);
      }
      const post = await get(frontchannelUrl(b, idpQuery(sid)), fay, { method: 'POST' });
      assert.equal(post.status, 405);
      await stillIn(fay, 'fay');
    });

    test('nothing from the URL is reflected; the page is framable, scriptless and not cached', async () => {
      const hostile = '"><script>alert(1)</script><img src=x onerror=alert(2)>';
      for (const url of [frontchannelUrl(b, idpQuery(hostile)), frontchannelUrl(b, idpQuery('s', hostile))]) {
        const res = await get(url);
        assert.ok(!res.body.includes('script') && !res.body.includes('onerror') && !res.body.includes('evil'), res.body);
        assert.equal(res.headers.get('cache-control'), 'no-store');
        assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'none'/);
        assert.equal(res.headers.get('x-frame-options'), null);
      }
    });

    test('a top-level load clears the browser\'s cookies only when its session is the one named', async () => {
      const fay = await login(a, idp, 'fay');
      const gus = await login(a, idp, 'gus');
      // Fay's browser is made to load the logout of Gus's IdP session: Gus's sessions end, Fay keeps hers.
      const other = await get(frontchannelUrl(b, idpQuery(sidOf('gus'))), fay);
      assert.equal(other.status, 200);
      assert.deepEqual(other.headers.getSetCookie(), [], 'fay\'s cookies are not touched');
      await refusedOnEvery([a, b], gus, 'gus after the logout of his IdP session');
      await stillIn(fay, 'fay');

      const own = await get(frontchannelUrl(b, idpQuery(sidOf('fay'))), fay);
      assert.equal(own.status, 200);
      assert.ok(own.headers.getSetCookie().some((l) => l.startsWith('JWT=;') && /max-age=0/i.test(l)), 'the session cookie is cleared');
      await refusedOnEvery([a, b], fay, 'fay after the logout of her IdP session');
    });

    test('through the gRPC door (Envoy routes /oauth/* through Check): the same answer, the same revocation', async () => {
      const hal = await login(a, idp, 'hal');
      const res = await b.check({ path: `/oauth/frontchannel-logout/${PROVIDER}?${idpQuery(sidOf('hal'))}`, headers: BROWSER });
      assert.equal(res.denied_response?.status?.code, 200, JSON.stringify(res));
      assert.match(res.denied_response?.body ?? '', /Logged out/);
      await refusedOnEvery([a, b], hal, 'after a front-channel logout through Check');
    });

    test('a client listed in frontchannel-logout-sid-optional-clients: no iss/sid ends only the loading browser\'s session', async () => {
      const fay = await login(sidOptional, idp, 'fay');
      const gus = await login(sidOptional, idp, 'gus');
      const anonymous = await get(frontchannelUrl(sidOptional, ''));
      assert.equal(anonymous.status, 200, 'nothing to end, nothing refused');
      await stillIn(fay, 'fay');

      const res = await get(frontchannelUrl(sidOptional, ''), fay);
      assert.equal(res.status, 200);
      assert.ok(res.headers.getSetCookie().some((l) => l.startsWith('JWT=;')), 'cleared');
      await refusedOnEvery([sidOptional, a, b], fay, 'the loading browser\'s session');
      await stillIn(gus, 'gus');
      assert.equal((await get(frontchannelUrl(a, ''), gus)).status, 400, 'a replica without the key still requires iss + sid');
    });
  });
}
