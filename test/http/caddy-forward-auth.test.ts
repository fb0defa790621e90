/**
 * REAL Caddy (Debian package) with `forward_auth` to the HTTP door, in front
 * of an echoing upstream. Two recipes: the recommended one (client identity
 * headers and any X-Forwarded-Uri/-Method, X-Original-URI/-Method stripped in
 * a `route` before forward_auth) and a bare one (no strip), which must be safe too because the door sends every identity
 * header — empty when unset — and Caddy 2.6 would otherwise put the literal
 * placeholder text `{http.reverse_proxy.header.X-Kestra-Email}` upstream.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CADDY_RECIPE_STRIP, caddyForwardAuthSite, proxySkipReason, startCaddy, type RunningProxy } from '../helpers/proxies.js';
import { rawCall } from '../helpers/raw-http.js';
import { echoedHeader, startUpstream, type EchoedRequest, type Upstream } from '../helpers/upstream.js';
import { IDP_AUTHORIZE, LOGIN_PATH, startHttpFixture, type HttpFixture } from './service-fixture.js';

const skip = await proxySkipReason('caddy');

describe('Caddy forward_auth → HTTP door', { skip }, () => {
  let fx: HttpFixture;
  let upstream: Upstream;
  let recommended: RunningProxy;
  let bare: RunningProxy;

  before(async () => {
    fx = await startHttpFixture();
    upstream = await startUpstream();
    const authz = `127.0.0.1:${fx.service.httpPort}`;
    recommended = await startCaddy({ site: caddyForwardAuthSite({ authz, upstream: upstream.url, stripHeaders: CADDY_RECIPE_STRIP }) });
    bare = await startCaddy({ site: caddyForwardAuthSite({ authz, upstream: upstream.url }) });
  });

  after(async () => {
    await recommended?.stop();
    await bare?.stop();
    await upstream?.stop();
    await fx?.stop();
  });

  const viaCaddy = async (proxy: RunningProxy, path: string, headers: Record<string, string> = {}) => {
    const res = await fetch(`${proxy.url}${path}`, { headers, redirect: 'manual' });
    return { res, text: await res.text() };
  };

  for (const recipe of ['recommended', 'bare'] as const) {
    const proxy = () => (recipe === 'recommended' ? recommended : bare);

    test(`${recipe}: an allowed request reaches the upstream with identity headers, query kept, spoofed values gone`, async () => {
      const { res, text } = await viaCaddy(proxy(), '/api/v1/main/flows/company.team/x?a=1&b=two', {
        ...fx.basic('ops', 'correct-horse-1'), 'x-kestra-user': 'admin', 'x-kestra-email': 'evil@example.com',
      });
      assert.equal(res.status, 200, text);
      const echo = JSON.parse(text) as EchoedRequest;
      assert.equal(echo.url, '/api/v1/main/flows/company.team/x?a=1&b=two');
      assert.deepEqual(echo.headers['x-kestra-user'], ['ops']);
      assert.equal(echoedHeader(echo, 'x-kestra-groups'), 'kestra-devs');
      assert.equal(echoedHeader(echo, 'x-kestra-tenant'), 'main');
      assert.deepEqual(echo.headers['x-kestra-email'], [''], 'the spoofed email is overwritten with nothing');
      assert.doesNotMatch(JSON.stringify(echo.headers), /evil@example|admin|\{http\./);
    });

    test(`${recipe}: on a public route a spoofed x-kestra-user never reaches the upstream`, async () => {
      const { res, text } = await viaCaddy(proxy(), '/healthz', { 'x-kestra-user': 'admin', 'x-kestra-groups': 'admins' });
      assert.equal(res.status, 200, text);
      const echo = JSON.parse(text) as EchoedRequest;
      for (const name of ['x-kestra-user', 'x-kestra-groups', 'x-kestra-email', 'x-kestra-tenant']) {
        assert.ok((echo.headers[name] ?? ['']).every((v) => v === ''), `${name}: ${JSON.stringify(echo.headers[name])}`);
      }
    });
  }

  test('401 passes through with its JSON body and challenge; the upstream is not reached', async () => {
    const before = upstream.requests.length;
    const { res, text } = await viaCaddy(bare, '/api/v1/main/flows/company.team/x', { accept: 'application/json' });
    assert.equal(res.status, 401);
    assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer realm="kestra-authz"/);
    assert.equal((JSON.parse(text) as { error: string }).error, 'no_credentials');
    assert.equal(upstream.requests.length, before);
  });

  test('403 passes through naming the missing permission', async () => {
    const token = await fx.devToken();
    const { res, text } = await viaCaddy(bare, '/api/v1/main/flows/company.other/x', { authorization: `Bearer ${token}` });
    assert.equal(res.status, 403);
    assert.equal((JSON.parse(text) as { permission: string }).permission, 'FLOW:READ');
  });

  test('a 302 with Location and two Set-Cookie lines arrives intact', async () => {
    const { res } = await viaCaddy(recommended, `${LOGIN_PATH}?redirect=%2Fui`);
    assert.equal(res.status, 302);
    assert.equal(res.headers.get('location'), IDP_AUTHORIZE);
    assert.deepEqual(res.headers.getSetCookie(), ['OAUTH2_STATE_a=s1; Path=/; HttpOnly; SameSite=Lax', 'OAUTH2_NONCE_a=n1; Path=/; HttpOnly; SameSite=Lax']);
    const seen = fx.seen.at(-1)!;
    assert.equal(seen.path, LOGIN_PATH);
    assert.equal(seen.query, 'redirect=%2Fui');
    assert.equal(seen.host, `127.0.0.1:${recommended.port}`);
  });
});

/**
 * Issue 13 through Caddy: forward_auth overwrites X-Forwarded-Method/-Uri but
 * passes every other client header, X-Original-URI/-Method included. The
 * recipe strips them; under the default trust the bare recipe's request with
 * a disagreeing X-Original-* is refused (400); under `trust: caddy` they are
 * never read. Every pairing is run.
 */
describe('Caddy forward_auth: a client cannot re-describe the request (issue 13)', { skip }, () => {
  const FLOW = '/api/v1/main/flows/company.team/f';
  const WEBHOOK = '/api/v1/main/executions/webhook/company.team/f/key';
  let upstream: Upstream;
  const fixtures: HttpFixture[] = [];
  const proxies: { name: string; caddy: RunningProxy; fx: HttpFixture; strict: boolean }[] = [];

  before(async () => {
    upstream = await startUpstream();
    for (const trust of ['default', 'caddy']) {
      const fx = await startHttpFixture(trust === 'default' ? {} : { trust });
      fixtures.push(fx);
      const authz = `127.0.0.1:${fx.service.httpPort}`;
      for (const recipe of ['recipe', 'bare'] as const) {
        const caddy = await startCaddy({ site: caddyForwardAuthSite({ authz, upstream: upstream.url, stripHeaders: recipe === 'recipe' ? CADDY_RECIPE_STRIP : [] }) });
        // Only the bare recipe under the default trust lets a disagreeing X-Original-* reach the door, which refuses it.
        proxies.push({ name: `${recipe}, trust ${trust}`, caddy, fx, strict: recipe === 'bare' && trust === 'default' });
      }
    }
  });

  after(async () => {
    for (const p of proxies) await p.caddy.stop();
    for (const fx of fixtures) await fx.stop();
    await upstream?.stop();
  });

  const assertRefused = async (p: (typeof proxies)[number], method: string, headers: Record<string, string | string[]>, expected: number) => {
    const before = upstream.requests.length;
    const res = await rawCall(p.caddy.url, FLOW, headers, method);
    assert.equal(res.status, expected, `${p.name}: ${method} → ${res.status} ${res.body}`);
    assert.equal(upstream.requests.length, before, `${p.name}: the upstream was reached`);
    return res;
  };

  test('anonymous DELETE with X-Original-URI: /ping → 401 (bare recipe, default trust: 400), never the upstream', async () => {
    for (const p of proxies) {
      await assertRefused(p, 'DELETE', { 'x-original-uri': '/ping', 'x-original-method': 'GET', accept: 'application/json' }, p.strict ? 400 : 401);
    }
  });

  test('anonymous DELETE with X-Forwarded-Uri: /ping, or two of them → 401: Caddy overwrites them', async () => {
    for (const p of proxies) {
      await assertRefused(p, 'DELETE', { 'x-forwarded-uri': '/ping', 'x-forwarded-method': 'GET', accept: 'application/json' }, 401);
      assert.equal(p.fx.seen.at(-1)!.path, FLOW);
      assert.equal(p.fx.seen.at(-1)!.method, 'DELETE');
      await assertRefused(p, 'GET', { 'x-forwarded-uri': [WEBHOOK, FLOW], accept: 'application/json' }, 401);
    }
  });

  test('a viewer\'s DELETE with X-Forwarded-Method: GET or X-Original-Method: GET → 403 (bare recipe, default trust: 400)', async () => {
    for (const p of proxies) {
      const viewer = p.fx.basic('visitor', 'visitor-pass-1');
      await assertRefused(p, 'DELETE', { ...viewer, 'x-forwarded-method': 'GET' }, 403);
      assert.equal(p.fx.seen.at(-1)!.method, 'DELETE');
      await assertRefused(p, 'DELETE', { ...viewer, 'x-original-method': 'GET' }, p.strict ? 400 : 403);
    }
  });

  test('control: honest requests pass through every pairing, judged on the real method and URI', async () => {
    for (const p of proxies) {
      const read = await rawCall(p.caddy.url, `${FLOW}?a=1`, p.fx.basic('visitor', 'visitor-pass-1'));
      assert.equal(read.status, 200, `${p.name}: ${read.body}`);
      // Caddy's reverse_proxy writes X-Forwarded-Host/-Proto/-For itself: the client's are not believed.
      const spoofed = { 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https', 'x-forwarded-for': '203.0.113.9' };
      const del = await rawCall(p.caddy.url, FLOW, { ...p.fx.basic('ops', 'correct-horse-1'), ...spoofed }, 'DELETE');
      assert.equal(del.status, 200, `${p.name}: ${del.body}`);
      assert.equal((JSON.parse(del.body) as EchoedRequest).method, 'DELETE');
      const seen = p.fx.seen.at(-1)!;
      assert.equal(seen.method, 'DELETE');
      assert.equal(seen.path, FLOW);
      assert.equal(seen.host, `127.0.0.1:${p.caddy.port}`);
      assert.equal(seen.scheme, 'http');
      assert.equal(seen.sourceAddress, '127.0.0.1');
    }
  });
});
