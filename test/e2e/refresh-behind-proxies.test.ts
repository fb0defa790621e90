/**
 * A refreshed session reaches the browser behind the forward-auth recipes,
 * with nothing faked: headless Chromium → real Caddy (`forward_auth`) or real
 * nginx (`auth_request`) → our HTTP door → a real oidc-provider issuing
 * short-lived tokens and one-time refresh tokens.
 *
 * Both proxies drop the headers of a 2xx auth answer, so the new cookies
 * would never reach the browser (it would keep the old ones, reuse their
 * refresh result for a minute, then present a spent refresh token and be
 * logged out). Caddy: the navigation that refreshes is a 307 to itself with
 * the cookies; an API call that refreshes stays a 200 and the next
 * navigation delivers them. nginx: the recipe adds the numbered Set-Cookie
 * headers back on the allowed answer itself.
 *
 * The proof is the browser's own cookie jar (new session and refresh cookie)
 * and kestra_authz_oidc_refresh_total (one refresh, not one per request).
 * Waiting for a token to expire is a sleep, never an assertion on time.
 * Run with NODE_EXTRA_CA_CERTS=test/fixtures/tls/cert.pem.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BrowserContext, Page } from 'playwright-core';
import { loadConfigFile } from '../../src/config/load-config.js';
import { createLogger } from '../../src/observability/logger.js';
import { startService, type RunningService } from '../../src/server/service.js';
import { browserSkipReason, launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { metricValue } from '../helpers/metric-value.js';
import { startOidcIdp, type OidcIdp } from '../helpers/oidc-idp.js';
import { PROFILE_SCOPES, TEST_CLIENT, oidcServiceYaml } from '../helpers/oidc-service-config.js';
import {
  CADDY_RECIPE_STRIP, caddyForwardAuthSite, freePort, nginxAuthRequest, proxySkipReason, startCaddy, startNginx,
  type ProxyName, type RunningProxy,
} from '../helpers/proxies.js';
import { startUpstream, type EchoedRequest, type Upstream } from '../helpers/upstream.js';

const TOKEN_TTL_SECONDS = 2;
const REFRESH = 'kestra_authz_oidc_refresh_total';
const SESSION_COOKIES = ['JWT', 'JWT_REFRESH_TOKEN'];

const browserSkip = await browserSkipReason();

async function echoOnPage(page: Page): Promise<EchoedRequest> {
  const text = await page.locator('body').innerText();
  try {
    return JSON.parse(text) as EchoedRequest;
  } catch {
    throw new Error(`expected the upstream's JSON echo at ${page.url()}, got: ${text.slice(0, 500)}`);
  }
}

async function sessionCookies(context: BrowserContext, app: string): Promise<Record<string, string | undefined>> {
  const jar = await context.cookies(app);
  return Object.fromEntries(SESSION_COOKIES.map((name) => [name, jar.find((c) => c.name === name)?.value]));
}

for (const proxyName of ['caddy', 'nginx'] as const satisfies readonly ProxyName[]) {
  const skip = browserSkip ?? await proxySkipReason(proxyName);

  describe(`a refreshed session reaches the browser behind ${proxyName} (real Chromium)`, { skip }, () => {
    let dir: string;
    let idp: OidcIdp;
    let upstream: Upstream;
    let proxy: RunningProxy;
    let service: RunningService;
    let browser: TestBrowser;
    let app: string;

    before(async () => {
      assert.ok(process.env.NODE_EXTRA_CA_CERTS, 'run with NODE_EXTRA_CA_CERTS=test/fixtures/tls/cert.pem (the test IdP is HTTPS)');
      dir = await mkdtemp(join(tmpdir(), `kauthz-refresh-${proxyName}-`));
      upstream = await startUpstream();
      const httpPort = await freePort();
      proxy = proxyName === 'caddy'
        ? await startCaddy({ site: caddyForwardAuthSite({ authz: `127.0.0.1:${httpPort}`, upstream: upstream.url, stripHeaders: CADDY_RECIPE_STRIP }) })
        : await startNginx(nginxAuthRequest({ authz: `http://127.0.0.1:${httpPort}`, upstream: upstream.url }));
      app = `http://localhost:${proxy.port}`;
      idp = await startOidcIdp({
        name: `oprp${proxyName}`,
        clients: [{ ...TEST_CLIENT, redirect_uris: [`${app}/oauth/callback/idp-a`] }],
        users: { rita: { preferred_username: 'rita', groups: ['ops'] } },
        accessTokenTtl: TOKEN_TTL_SECONDS,
        idTokenTtl: TOKEN_TTL_SECONDS,
        refresh: true,
        rotateRefreshTokens: true,
      });
      const configPath = join(dir, 'config.yaml');
      await writeFile(configPath, oidcServiceYaml({
        secret: `refresh-${proxyName}-secret-0123456789abcdef`,
        externalUrl: app,
        dir,
        httpPort,
        providers: { 'idp-a': idp },
        scopes: PROFILE_SCOPES,
        security: { oidc: { 'groups-claim-path': 'groups' } },
        authz: { default: 'authenticated', http: { 'forward-auth': { trust: proxyName } } },
      }));
      service = await startService(await loadConfigFile(configPath), { logger: createLogger('silent') });
      browser = await launchBrowser();
    });

    after(async () => {
      await browser?.close();
      await service?.close();
      await proxy?.stop();
      await upstream?.stop();
      await idp?.stop();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    /** A fresh browser profile logged in as rita through the proxy; returns it on the first page. */
    async function loggedIn(): Promise<{ context: BrowserContext; page: Page }> {
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(`${app}/start`);
      await page.waitForURL((url) => url.origin === idp.issuer);
      await page.locator('input[name="login"]').fill('rita');
      await page.locator('input[name="password"]').fill('any-password');
      await page.locator('button[type="submit"]').first().click();
      await page.waitForLoadState();
      if (new URL(page.url()).origin === idp.issuer && (await page.locator('input[name="prompt"][value="consent"]').count())) {
        await page.locator('button[type="submit"]').first().click();
      }
      await page.waitForURL(`${app}/start`);
      assert.deepEqual((await echoOnPage(page)).headers['x-kestra-user'], ['rita']);
      return { context, page };
    }

    const apiCall = (page: Page, path: string) => page.evaluate(async (p) => {
      const res = await fetch(p, { headers: { accept: 'application/json' } });
      return { status: res.status, body: await res.text() };
    }, path);

    test('a navigation due for refresh: the browser holds the new cookies, the next requests do not refresh again', async () => {
      const { context, page } = await loggedIn();
      try {
        const before = await sessionCookies(context, app);
        assert.ok(before.JWT && before.JWT_REFRESH_TOKEN, 'session and refresh cookies after login');
        const refreshes = await metricValue(REFRESH, { provider: 'idp-a', result: 'success' });
        const grants = idp.counts.refresh;

        await sleep((TOKEN_TTL_SECONDS + 1.5) * 1000);
        const statuses: number[] = [];
        page.on('response', (r) => { if (new URL(r.url()).pathname === '/after') statuses.push(r.status()); });
        await page.goto(`${app}/after?x=1`);
        assert.equal(new URL(page.url()).pathname + new URL(page.url()).search, '/after?x=1', 'back on the same URL');
        assert.deepEqual((await echoOnPage(page)).headers['x-kestra-user'], ['rita']);
        // Caddy passes a non-2xx auth answer to the browser: the refresh rides on a 307 to the same URL.
        assert.deepEqual(statuses, proxyName === 'caddy' ? [307, 200] : [200]);

        const renewed = await sessionCookies(context, app);
        assert.ok(renewed.JWT && renewed.JWT !== before.JWT, 'the browser holds the renewed session cookie');
        assert.ok(renewed.JWT_REFRESH_TOKEN && renewed.JWT_REFRESH_TOKEN !== before.JWT_REFRESH_TOKEN, 'and the rotated refresh token');
        assert.equal(await metricValue(REFRESH, { provider: 'idp-a', result: 'success' }), refreshes + 1, 'one refresh');
        assert.equal(idp.counts.refresh, grants + 1);

        await page.goto(`${app}/again`);
        assert.deepEqual((await echoOnPage(page)).headers['x-kestra-user'], ['rita']);
        assert.equal((await apiCall(page, '/api/data')).status, 200);
        assert.equal(await metricValue(REFRESH, { provider: 'idp-a', result: 'success' }), refreshes + 1, 'no second refresh');
        assert.deepEqual(await sessionCookies(context, app), renewed);
      } finally {
        await context.close();
      }
    });

    test('an API call due for refresh is allowed; the new cookies reach the browser (nginx: on that answer, Caddy: on the next navigation)', async () => {
      const { context, page } = await loggedIn();
      try {
        const before = await sessionCookies(context, app);
        const refreshes = await metricValue(REFRESH, { provider: 'idp-a', result: 'success' });
        await sleep((TOKEN_TTL_SECONDS + 1.5) * 1000);

        const api = await apiCall(page, '/api/flows');
        assert.equal(api.status, 200, api.body);
        assert.equal(await metricValue(REFRESH, { provider: 'idp-a', result: 'success' }), refreshes + 1);
        const afterApi = await sessionCookies(context, app);
        if (proxyName === 'nginx') {
          assert.notEqual(afterApi.JWT, before.JWT, 'nginx adds the renewed cookies to the allowed answer');
        } else {
          // Caddy drops a 2xx answer's headers, and a 307 would break a fetch: the old cookies stay for now.
          assert.equal(afterApi.JWT, before.JWT);
          await page.goto(`${app}/next`);
          assert.deepEqual((await echoOnPage(page)).headers['x-kestra-user'], ['rita']);
        }
        const renewed = await sessionCookies(context, app);
        assert.ok(renewed.JWT && renewed.JWT !== before.JWT, 'the browser holds the renewed session cookie');
        assert.notEqual(renewed.JWT_REFRESH_TOKEN, before.JWT_REFRESH_TOKEN);
        assert.equal(await metricValue(REFRESH, { provider: 'idp-a', result: 'success' }), refreshes + 1, 'the navigation reused the refresh');
      } finally {
        await context.close();
      }
    });
  });
}
