/**
 * Browser login end to end, with nothing faked: headless Chromium → Caddy
 * (`forward_auth` to our HTTP door, `reverse_proxy` to an echo upstream) →
 * our chooser → a real oidc-provider IdP over HTTPS (its login and consent
 * forms) → back on the page the browser first asked for.
 *
 * The app is reached as http://localhost:<caddy> and the IdPs as
 * https://127.0.0.1:<port>, so the browser keeps the app's and the IdPs'
 * cookies apart as it would for real (different hosts).
 *
 * Run with NODE_EXTRA_CA_CERTS=test/fixtures/tls/cert.pem (the service under
 * test talks HTTPS to the IdPs). The chooser's screenshot is kept as
 * test-artifacts/chooser.png.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BrowserContext, Page } from 'playwright-core';
import { loadConfigFile } from '../../src/config/load-config.js';
import { createLogger } from '../../src/observability/logger.js';
import { startService, type RunningService } from '../../src/server/service.js';
import { browserSkipReason, launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { startOidcIdp, type OidcIdp } from '../helpers/oidc-idp.js';
import { PROFILE_SCOPES, TEST_CLIENT, oidcServiceYaml } from '../helpers/oidc-service-config.js';
import { CADDY_RECIPE_STRIP, caddyForwardAuthSite, freePort, proxySkipReason, startCaddy, type RunningProxy } from '../helpers/proxies.js';
import { startUpstream, type EchoedRequest, type Upstream } from '../helpers/upstream.js';

const ARTIFACTS = fileURLToPath(new URL('../../../test-artifacts/', import.meta.url));
const SECRET = 'browser-login-e2e-secret-0123456789abcdef';
const USERS = {
  alice: { preferred_username: 'alice', email: 'alice@example.com', email_verified: true, groups: ['kestra-devs', 'ops'] },
  bob: { preferred_username: 'bob', email: 'bob@example.com', email_verified: true, groups: ['b-team'] },
};

const skip = await browserSkipReason() ?? await proxySkipReason('caddy');

/** The upstream's JSON echo, as the browser shows it. */
async function echoOnPage(page: Page): Promise<EchoedRequest> {
  const text = await page.locator('body').innerText();
  try {
    return JSON.parse(text) as EchoedRequest;
  } catch {
    throw new Error(`expected the upstream's JSON echo at ${page.url()}, got: ${text.slice(0, 500)}`);
  }
}

/** The IdP's dev login form, then its consent form when it asks. */
async function signInAtIdp(page: Page, idp: OidcIdp, login: string): Promise<void> {
  await page.waitForURL((url) => url.origin === idp.issuer);
  await page.locator('input[name="login"]').fill(login);
  await page.locator('input[name="password"]').fill('any-password');
  await page.locator('button[type="submit"]').first().click();
  await page.waitForLoadState();
  if (new URL(page.url()).origin === idp.issuer && (await page.locator('input[name="prompt"][value="consent"]').count())) {
    await page.locator('button[type="submit"]').first().click();
  }
}

describe('browser login through Caddy forward_auth, two IdPs', { skip }, () => {
  let dir: string;
  let idpA: OidcIdp;
  let idpB: OidcIdp;
  let upstream: Upstream;
  let caddy: RunningProxy;
  let service: RunningService;
  let browser: TestBrowser;
  let app: string; // http://localhost:<caddy port>

  before(async () => {
    assert.ok(process.env.NODE_EXTRA_CA_CERTS, 'run with NODE_EXTRA_CA_CERTS=test/fixtures/tls/cert.pem (the test IdPs are HTTPS)');
    dir = await mkdtemp(join(tmpdir(), 'kauthz-browser-'));
    upstream = await startUpstream();
    const httpPort = await freePort();
    // The README's Caddy recipe: our own endpoints go to the HTTP door as they are; every other request is asked about with forward_auth first.
    caddy = await startCaddy({ site: caddyForwardAuthSite({ authz: `127.0.0.1:${httpPort}`, upstream: upstream.url, stripHeaders: CADDY_RECIPE_STRIP }) });
    app = `http://localhost:${caddy.port}`;
    const clients = (name: string) => [{
      ...TEST_CLIENT,
      redirect_uris: [`${app}/oauth/callback/${name}`],
      post_logout_redirect_uris: [`${app}/logout`, `${app}/`],
    }];
    idpA = await startOidcIdp({ name: 'opa', clients: clients('idp-a'), users: USERS });
    idpB = await startOidcIdp({ name: 'opb', clients: clients('idp-b'), users: USERS });
    const configPath = join(dir, 'config.yaml');
    await writeFile(configPath, oidcServiceYaml({
      secret: SECRET,
      externalUrl: app,
      dir,
      httpPort,
      providers: { 'idp-a': idpA, 'idp-b': idpB },
      scopes: PROFILE_SCOPES,
      security: { oidc: { 'groups-claim-path': 'groups' }, 'default-role': { name: 'viewer', permissions: { FLOW: ['READ'] } } },
      micronautSecurity: { endpoints: { logout: { 'get-allowed': true } } },
      authz: { default: 'authenticated' },
    }));
    service = await startService(await loadConfigFile(configPath), { logger: createLogger('silent') });
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await service?.close();
    await caddy?.stop();
    await upstream?.stop();
    await idpA?.stop();
    await idpB?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  let context: BrowserContext;
  let page: Page;
  const original = () => `${app}/flows/company.team?tab=executions`;

  test('protected page → chooser (screenshot) → IdP A login form → back on the page with identity headers', async () => {
    context = await browser.newContext();
    page = await context.newPage();
    await page.goto(original());

    // Several providers: the chooser, on our own origin.
    const chooser = new URL(page.url());
    assert.equal(chooser.origin, app);
    assert.equal(chooser.pathname, '/login');
    await mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'chooser.png'), fullPage: true });
    const toA = page.locator('a[href*="/oauth/login/idp-a"], button[value="idp-a"], form[action*="/oauth/login/idp-a"] button').first();
    const toB = page.locator('a[href*="/oauth/login/idp-b"], button[value="idp-b"], form[action*="/oauth/login/idp-b"] button').first();
    assert.ok(await toA.isVisible(), 'the chooser offers provider A');
    assert.ok(await toB.isVisible(), 'the chooser offers provider B');

    await toA.click();
    await signInAtIdp(page, idpA, 'alice');
    await page.waitForURL(original());

    const echo = await echoOnPage(page);
    assert.equal(echo.url, '/flows/company.team?tab=executions');
    assert.deepEqual(echo.headers['x-kestra-user'], ['alice']);
    assert.deepEqual(echo.headers['x-kestra-email'], ['alice@example.com']);
    assert.deepEqual(echo.headers['x-kestra-groups']?.[0]?.split(',').sort(), ['kestra-devs', 'ops']);

    const session = (await context.cookies(app)).find((c) => c.name === 'JWT');
    assert.ok(session, 'the session cookie is set on the app');
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, 'Lax');
    assert.equal(idpA.counts.token, 1);
  });

  test('our cookies (session, refresh, login state) never reach the upstream behind Caddy', async () => {
    await context.addCookies([{ name: 'theme', value: 'dark', url: app }]);
    await page.goto(`${app}/cookies`);
    const echo = await echoOnPage(page);
    const upstreamCookies = echo.headers.cookie?.join('; ') ?? '';
    assert.match(upstreamCookies, /(^|;\s*)theme=dark/, 'other cookies still pass');
    // Names only in the message: the values are session tokens.
    const names = upstreamCookies.split(';').map((c) => c.split('=')[0]?.trim() ?? '');
    assert.ok(!names.some((n) => /^(JWT(_[A-Za-z0-9_]+)?|OAUTH2_STATE_.*)$/.test(n)),
      `our cookies must be stripped before the upstream; it got cookies named: ${names.join(', ')}`);
  });

  test('a spoofed identity header from the browser never reaches the upstream', async () => {
    await page.setExtraHTTPHeaders({ 'X-Kestra-User': 'mallory' });
    await page.goto(`${app}/spoof`);
    const echo = await echoOnPage(page);
    assert.deepEqual(echo.headers['x-kestra-user'], ['alice']);
    await page.setExtraHTTPHeaders({});
  });

  test('logout ends the session here and at IdP A', async () => {
    await page.goto(`${app}/logout`);
    // RP-initiated logout: the IdP asks to confirm, then sends the browser back to us.
    await page.waitForURL((url) => url.origin === idpA.issuer);
    const endSession = new URL(page.url());
    await page.locator('button[value="yes"], button[name="logout"]').first().click();
    await page.waitForURL((url) => url.origin === app);
    assert.equal(idpA.counts.endSession, 1, 'the IdP end_session endpoint completed a logout');
    assert.ok(endSession.pathname.length > 1);
    assert.equal((await context.cookies(app)).find((c) => c.name === 'JWT'), undefined, 'our session cookie is gone');

    // Our side: the protected page sends us to the chooser again.
    await page.goto(original());
    assert.equal(new URL(page.url()).pathname, '/login');
    // IdP side: choosing A again shows A's login form (no IdP session left to ride on).
    await page.locator('a[href*="/oauth/login/idp-a"], button[value="idp-a"], form[action*="/oauth/login/idp-a"] button').first().click();
    await page.waitForURL((url) => url.origin === idpA.issuer);
    assert.ok(await page.locator('input[name="login"]').isVisible(), 'IdP A asks for the login form again');
    await context.close();
  });

  test('login with IdP B, then reload works with IdP B stopped (session cookie only)', async () => {
    const ctx = await browser.newContext();
    try {
      const tab = await ctx.newPage();
      await tab.goto(`${app}/dashboard`);
      assert.equal(new URL(tab.url()).pathname, '/login');
      await tab.locator('a[href*="/oauth/login/idp-b"], button[value="idp-b"], form[action*="/oauth/login/idp-b"] button').first().click();
      await signInAtIdp(tab, idpB, 'bob');
      await tab.waitForURL(`${app}/dashboard`);
      assert.deepEqual((await echoOnPage(tab)).headers['x-kestra-user'], ['bob']);

      await idpB.stop();
      const dashboardHits = () => upstream.requests.filter((r) => r.url === '/dashboard').length;
      const seenBefore = dashboardHits();
      const reloaded = await tab.reload();
      assert.equal(reloaded?.status(), 200);
      const echo = await echoOnPage(tab);
      assert.deepEqual(echo.headers['x-kestra-user'], ['bob']);
      assert.deepEqual(echo.headers['x-kestra-groups'], ['b-team']);
      assert.equal(dashboardHits(), seenBefore + 1, 'the reload reached the upstream');
    } finally {
      await ctx.close();
    }
  });
});
