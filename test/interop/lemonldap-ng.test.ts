/**
 * Interop with a second, independently written OpenID Provider (issue 15):
 * LemonLDAP::NG 2.16 from Debian — its portal under llng-fastcgi-server
 * behind its own nginx over HTTPS (throw-away CA), Demo users, OIDC RPs with
 * groups in the ID token — and real headless Chromium → real Caddy (the
 * README's forward_auth recipe) → our HTTP door → an echo upstream.
 *
 * What a real deployment meets: login, groups → RBAC (allow / 403), reload,
 * refresh (a 307 to the same URL behind Caddy), RP-initiated logout with
 * `id_token_hint`, client ids with hyphens and secrets with reserved
 * characters under client_secret_post (chosen by default) and
 * client_secret_basic. Pinned as they are, not as one would wish:
 * - LemonLDAP::NG 2.16 does not percent-decode HTTP Basic credentials
 *   (RFC 6749 §2.3.1), so a client id or secret with anything but letters
 *   and digits (a hyphen too) fails under client_secret_basic — hence
 *   client_secret_post, our default choice, is recommended;
 * - its front-channel logout names no session we know: its ID tokens carry
 *   no `sid`, so the call cannot end our session by sid (the session then
 *   ends at its next refresh, which the IdP refuses).
 * private_key_jwt / client_secret_jwt are not offered by this IdP; they are
 * tested against oidc-provider (test/oidc/client-auth.test.ts).
 *
 * Runs inside `npm test` and alone: `npm run test:interop`. Skips with a
 * message where LemonLDAP::NG, Caddy or Chromium is missing; under CI=true
 * it installs LemonLDAP::NG (root, apt-get) or fails.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BrowserContext, Page } from 'playwright-core';
import { stringify } from 'yaml';
import { loadConfigFile } from '../../src/config/load-config.js';
import { createLogger } from '../../src/observability/logger.js';
import { startService, type RunningService } from '../../src/server/service.js';
import { browserSkipReason, launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { lemonldapSkipReason, startLemonldap, type Lemonldap } from '../helpers/lemonldap.js';
import { metricValue } from '../helpers/metric-value.js';
import { CADDY_RECIPE_STRIP, caddyForwardAuthSite, freePort, proxySkipReason, startCaddy, type RunningProxy } from '../helpers/proxies.js';
import { startUpstream, type EchoedRequest, type Upstream } from '../helpers/upstream.js';

/** Every character RFC 6749 §2.3.1 has a client form-encode before HTTP Basic. */
const RESERVED_SECRET = 'kestra+secret/with=reserved:chars?&%';
const PLAIN_SECRET = 'kestraBasicSecret0123456789';
const REFRESH_TTL_SECONDS = 5;
const LOGINS = 'kestra_authz_oidc_logins_total';
const TLS_DIR = fileURLToPath(new URL('../../../test/fixtures/tls/', import.meta.url));
const REFRESH = 'kestra_authz_oidc_refresh_total';

const skip = lemonldapSkipReason() ?? await browserSkipReason() ?? await proxySkipReason('caddy') ?? await proxySkipReason('nginx');

async function echoOnPage(page: Page): Promise<EchoedRequest> {
  const text = await page.locator('body').innerText();
  try {
    return JSON.parse(text) as EchoedRequest;
  } catch {
    throw new Error(`expected the upstream's JSON echo at ${page.url()}, got: ${text.slice(0, 500)}`);
  }
}

describe('LemonLDAP::NG 2.16 as the IdP, behind Caddy, in real Chromium', { skip }, () => {
  let dir: string;
  let llng: Lemonldap;
  let upstream: Upstream;
  let caddy: RunningProxy;
  let service: RunningService;
  let browser: TestBrowser;
  let app: string;

  before(async () => {
    assert.ok(process.env.NODE_EXTRA_CA_CERTS, 'run with NODE_EXTRA_CA_CERTS=test/fixtures/tls/cert.pem (the portal is HTTPS)');
    dir = await mkdtemp(join(tmpdir(), 'kauthz-llng-interop-'));
    upstream = await startUpstream();
    const httpPort = await freePort();
    // HTTPS like the portal: its logout page frames our front-channel URI, and an https page may not frame http.
    caddy = await startCaddy({
      site: caddyForwardAuthSite({ authz: `127.0.0.1:${httpPort}`, upstream: upstream.url, stripHeaders: CADDY_RECIPE_STRIP }),
      tls: { cert: join(TLS_DIR, 'cert.pem'), key: join(TLS_DIR, 'key.pem') },
    });
    // The app on "localhost", the portal on "127.0.0.1": two sites, two cookie jars, as in production.
    app = `https://localhost:${caddy.port}`;
    const rp = (key: string, clientId: string, clientSecret: string, extra: object = {}) => ({
      key, clientId, clientSecret,
      redirectUris: [`${app}/oauth/callback/${key}`],
      postLogoutRedirectUris: [`${app}/logout`],
      ...extra,
    });
    llng = await startLemonldap({
      rps: [
        rp('llng', 'kestra-prod', RESERVED_SECRET, { frontchannelLogoutUri: `${app}/oauth/frontchannel-logout/llng` }),
        rp('llng-basic', 'kestrabasic', PLAIN_SECRET),
        rp('llng-basic-reserved', 'kestra-basic', RESERVED_SECRET),
        rp('llng-basic-hyphen', 'kestra-hyphen', PLAIN_SECRET),
        rp('llng-refresh', 'kestra-refresh', RESERVED_SECRET, {
          accessTokenTtl: REFRESH_TTL_SECONDS, frontchannelLogoutUri: `${app}/oauth/frontchannel-logout/llng-refresh`,
        }),
      ],
    });
    const client = (clientId: string, secret: string, authMethod?: string) => ({
      'client-id': clientId,
      'client-secret': secret,
      scopes: ['openid', 'profile', 'email'],
      ...(authMethod ? { token: { 'auth-method': authMethod } } : {}),
      openid: { issuer: llng.issuer },
    });
    const configPath = join(dir, 'config.yaml');
    await writeFile(configPath, stringify({
      kestra: { encryption: { 'secret-key': 'llng-interop-secret-0123456789abcdef' }, security: { oidc: { 'groups-claim-path': 'groups' } } },
      micronaut: {
        security: {
          oauth2: {
            enabled: true,
            clients: {
              // auth-method unset: client_secret_post, the first the IdP lists and our first choice.
              llng: client('kestra-prod', RESERVED_SECRET),
              'llng-basic': client('kestrabasic', PLAIN_SECRET, 'client_secret_basic'),
              'llng-basic-reserved': client('kestra-basic', RESERVED_SECRET, 'client_secret_basic'),
              'llng-basic-hyphen': client('kestra-hyphen', PLAIN_SECRET, 'client_secret_basic'),
              'llng-refresh': client('kestra-refresh', RESERVED_SECRET),
            },
          },
        },
      },
      authz: {
        'external-url': app,
        listen: { grpc: '127.0.0.1:0', http: `127.0.0.1:${httpPort}`, management: '127.0.0.1:0' },
        users: { file: join(dir, 'users.yaml') },
        log: { level: 'silent' },
        default: 'authenticated',
        // LemonLDAP::NG sends no email_verified; its Demo directory's addresses are the operator's own.
        oidc: { 'trust-email-clients': ['llng'] },
        http: { 'forward-auth': { trust: 'caddy' } },
        bindings: [{ group: 'timelords', role: 'admin' }],
        rules: [{ match: { path: '/admin/**' }, require: 'FLOW:READ' }],
      },
    }));
    service = await startService(await loadConfigFile(configPath), { logger: createLogger('silent') });
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await service?.close();
    await caddy?.stop();
    await upstream?.stop();
    await llng?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** Logs `user` in at the portal from `/oauth/login/<provider>`; returns where the browser ended up. */
  async function logIn(page: Page, provider: string, user: string, path = '/admin/flows'): Promise<void> {
    await page.goto(`${app}/oauth/login/${provider}?redirect=${encodeURIComponent(path)}`);
    await page.waitForURL((url) => url.origin === llng.issuer);
    await page.locator('#userfield').fill(user);
    await page.locator('#passwordfield').fill(user);
    await page.locator('button[type="submit"]').first().click();
    await page.waitForURL((url) => url.origin === app);
    await page.waitForLoadState();
  }

  /** page.waitForURL, failing with where the browser is and what it shows. */
  async function arriveAt(page: Page, what: string, predicate: (url: URL) => boolean): Promise<void> {
    try {
      await page.waitForURL(predicate, { timeout: 20_000 });
    } catch {
      const text = await page.locator('body').innerText().catch(() => '');
      assert.fail(`expected ${what}; the browser is at ${page.url()} showing: ${text.slice(0, 400)}`);
    }
  }

  async function withBrowser<T>(fn: (page: Page, context: BrowserContext) => Promise<T>): Promise<T> {
    const context = await browser.newContext();
    try {
      return await fn(await context.newPage(), context);
    } finally {
      await context.close();
    }
  }

  test('hyphenated client id, secret with + / = : ? & % under client_secret_post: login; groups from the ID token → RBAC allows; reload keeps the session', async () => {
    await withBrowser(async (page, context) => {
      const ok = await metricValue(LOGINS, { provider: 'llng', result: 'success' });
      await logIn(page, 'llng', 'dwho');
      assert.equal(new URL(page.url()).pathname, '/admin/flows');
      const echo = await echoOnPage(page);
      assert.deepEqual(echo.headers['x-kestra-user'], ['dwho']);
      assert.deepEqual(echo.headers['x-kestra-email'], ['dwho@badwolf.org']);
      assert.deepEqual(echo.headers['x-kestra-groups']?.[0]?.split(',').sort(), ['timelords', 'users']);
      assert.equal(await metricValue(LOGINS, { provider: 'llng', result: 'success' }), ok + 1);
      const cookie = (await context.cookies(app)).find((c) => c.name === 'JWT')?.value;
      await page.reload();
      assert.deepEqual((await echoOnPage(page)).headers['x-kestra-user'], ['dwho']);
      assert.equal((await context.cookies(app)).find((c) => c.name === 'JWT')?.value, cookie, 'no new login on reload');
    });
  });

  test('a user without the group: 403 on the protected path, allowed elsewhere', async () => {
    await withBrowser(async (page) => {
      const statuses: number[] = [];
      page.on('response', (r) => { if (new URL(r.url()).pathname === '/admin/flows') statuses.push(r.status()); });
      await logIn(page, 'llng', 'rtyler');
      assert.equal(statuses.at(-1), 403);
      await page.goto(`${app}/home`);
      assert.deepEqual((await echoOnPage(page)).headers['x-kestra-user'], ['rtyler']);
    });
  });

  test('client_secret_basic: works with an id and secret of letters and digits; a hyphenated id fails, with or without a reserved-character secret (LemonLDAP::NG 2.16 does not decode Basic)', async () => {
    await withBrowser(async (page) => {
      await logIn(page, 'llng-basic', 'dwho');
      assert.deepEqual((await echoOnPage(page)).headers['x-kestra-user'], ['dwho']);
    });
    // RFC 6749 §2.3.1 form-encoding turns even "-" into %2D, which this IdP compares undecoded.
    for (const provider of ['llng-basic-reserved', 'llng-basic-hyphen']) {
      await withBrowser(async (page) => {
        const failed = await metricValue(LOGINS, { provider, result: 'code_invalid' });
        const statuses: number[] = [];
        page.on('response', (r) => { if (new URL(r.url()).pathname === `/oauth/callback/${provider}`) statuses.push(r.status()); });
        await logIn(page, provider, 'dwho');
        assert.deepEqual(statuses, [400], provider);
        assert.match(await page.locator('body').innerText(), /Sign-in failed/);
        assert.equal(await metricValue(LOGINS, { provider, result: 'code_invalid' }), failed + 1);
      });
    }
  });

  test('refresh at LemonLDAP::NG behind Caddy: the due navigation is a 307 to itself carrying the new cookies; one refresh', async () => {
    await withBrowser(async (page, context) => {
      await logIn(page, 'llng-refresh', 'dwho', '/start');
      const before = (await context.cookies(app)).find((c) => c.name === 'JWT')?.value;
      const refreshes = await metricValue(REFRESH, { provider: 'llng-refresh', result: 'success' });
      await sleep((REFRESH_TTL_SECONDS + 1.5) * 1000);
      const statuses: number[] = [];
      page.on('response', (r) => { if (new URL(r.url()).pathname === '/after') statuses.push(r.status()); });
      await page.goto(`${app}/after`);
      assert.deepEqual((await echoOnPage(page)).headers['x-kestra-user'], ['dwho']);
      assert.deepEqual(statuses, [307, 200]);
      assert.equal(await metricValue(REFRESH, { provider: 'llng-refresh', result: 'success' }), refreshes + 1);
      const renewed = (await context.cookies(app)).find((c) => c.name === 'JWT')?.value;
      assert.ok(renewed && renewed !== before, 'the browser holds the renewed session');
      // Groups survive the refresh (the new ID token carries them too).
      await page.goto(`${app}/admin/flows`);
      assert.deepEqual((await echoOnPage(page)).headers['x-kestra-user'], ['dwho']);
    });
  });

  test('RP-initiated logout: to the end_session_endpoint with id_token_hint, back to /logout → / (→ login); both sessions gone', async () => {
    await withBrowser(async (page) => {
      await logIn(page, 'llng', 'dwho');
      const endSession: URL[] = [];
      page.on('request', (r) => { const u = new URL(r.url()); if (u.origin === llng.issuer && u.pathname === '/oauth2/logout') endSession.push(u); });
      // As the UI's logout button does: a same-origin POST /logout.
      await page.evaluate(`(() => {
        const form = document.createElement('form');
        form.method = 'post';
        form.action = '/logout';
        document.body.append(form);
        form.submit();
      })()`);
      // The portal shows its logout page (framing the front-channel URIs) with a timer; "Continue" goes on at once.
      await arriveAt(page, 'the portal\'s logout page', (url) => url.origin === llng.issuer);
      await page.locator('form#form button[type="submit"]').click();
      // Back at /logout → / — which, signed out, sends the browser on to the login page.
      await arriveAt(page, 'the app\'s login page', (url) => url.origin === app && url.pathname === '/login');
      assert.equal(new URL(page.url()).searchParams.get('redirect'), '/');
      assert.equal(endSession.length >= 1, true, 'went through the IdP\'s end_session_endpoint');
      assert.ok(endSession[0]!.searchParams.get('id_token_hint'), 'with id_token_hint');
      assert.equal(endSession[0]!.searchParams.get('post_logout_redirect_uri'), `${app}/logout`);
      // Our session is gone (a navigation goes to the login), and so is the portal's (it asks for credentials again).
      await page.goto(`${app}/oauth/login/llng?redirect=%2Fadmin%2Fflows`);
      await page.waitForURL((url) => url.origin === llng.issuer);
      assert.equal(await page.locator('#userfield').count(), 1, 'the portal asks for a login again');
    });
  });

  test('front-channel logout from the portal: the iframe reaches us with iss + sid, but LemonLDAP::NG 2.16 names no session we hold (no sid in its ID tokens) — pinned', async () => {
    await withBrowser(async (page) => {
      await logIn(page, 'llng', 'dwho');
      const calls: { url: URL; status?: number }[] = [];
      page.on('response', (r) => {
        const u = new URL(r.url());
        if (u.pathname === '/oauth/frontchannel-logout/llng') calls.push({ url: u, status: r.status() });
      });
      // The portal's own logout page loads every front-channel URI in an iframe.
      await page.goto(`${llng.issuer}/?logout=1`);
      await page.waitForLoadState('networkidle');
      assert.equal(calls.length, 1, 'the portal called our front-channel URI');
      assert.equal(calls[0]!.url.searchParams.get('iss'), llng.issuer);
      // LemonLDAP::NG 2.16 puts the user's subject where the session id belongs, and no sid in its ID tokens.
      assert.equal(calls[0]!.url.searchParams.get('sid'), 'dwho');
      assert.equal(calls[0]!.status, 200);
      // Nothing we hold is named by it: the session still works until its next refresh.
      await page.goto(`${app}/admin/flows`);
      assert.deepEqual((await echoOnPage(page)).headers['x-kestra-user'], ['dwho']);
    });
  });

  test('…so after a logout at the portal the session ends at its next refresh, which the portal refuses', async () => {
    await withBrowser(async (page) => {
      await logIn(page, 'llng-refresh', 'dwho', '/start');
      const rejected = await metricValue(REFRESH, { provider: 'llng-refresh', result: 'rejected' });
      await page.goto(`${llng.issuer}/?logout=1`);
      await page.waitForLoadState('networkidle');
      await sleep((REFRESH_TTL_SECONDS + 1.5) * 1000);
      await page.goto(`${app}/start`);
      // A refused refresh is a logout: the navigation goes to the login (the chooser, several providers here).
      await arriveAt(page, 'the app\'s login page', (url) => url.origin === app && url.pathname === '/login');
      assert.equal(await metricValue(REFRESH, { provider: 'llng-refresh', result: 'rejected' }), rejected + 1);
    });
  });
});
