/**
 * REAL nginx (Debian package) with `auth_request` to the HTTP door's
 * forward-auth endpoint (X-Original-URI / X-Original-Method), identity
 * headers passed with `auth_request_set` + `proxy_set_header`, in front of an
 * echoing upstream. nginx only understands 2xx/401/403 from the auth
 * request, so the door sends a redirect as 401 + Location and the recipe's
 * `@authz_401` location turns it back into the 302.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { nginxAuthRequest, proxySkipReason, startNginx, type RunningProxy } from '../helpers/proxies.js';
import { echoedHeader, startUpstream, type EchoedRequest, type Upstream } from '../helpers/upstream.js';
import { rawCall } from '../helpers/raw-http.js';
import { IDP_AUTHORIZE, LOGIN_PATH, LOGIN_REQUIRED_PATH, startHttpFixture, type HttpFixture } from './service-fixture.js';

const skip = await proxySkipReason('nginx');

describe('nginx auth_request → HTTP door', { skip }, () => {
  let fx: HttpFixture;
  let upstream: Upstream;
  let nginx: RunningProxy;

  before(async () => {
    fx = await startHttpFixture();
    upstream = await startUpstream();
    nginx = await startNginx(nginxAuthRequest({ authz: `http://127.0.0.1:${fx.service.httpPort}`, upstream: upstream.url }));
  });

  after(async () => {
    await nginx?.stop();
    await upstream?.stop();
    await fx?.stop();
  });

  const viaNginx = async (path: string, headers: Record<string, string> = {}, method = 'GET') => {
    const res = await fetch(`${nginx.url}${path}`, { method, headers, redirect: 'manual' });
    return { res, text: await res.text() };
  };

  test('allowed: identity headers reach the upstream, spoofed ones do not, the original method and URI are decided', async () => {
    const { res, text } = await viaNginx('/api/v1/main/flows/company.team/x?a=1', {
      ...fx.basic('ops', 'correct-horse-1'), 'x-kestra-user': 'admin', 'x-kestra-email': 'evil@example.com',
    }, 'DELETE');
    assert.equal(res.status, 200, text);
    const echo = JSON.parse(text) as EchoedRequest;
    assert.equal(echo.method, 'DELETE');
    assert.equal(echo.url, '/api/v1/main/flows/company.team/x?a=1');
    assert.deepEqual(echo.headers['x-kestra-user'], ['ops']);
    assert.equal(echoedHeader(echo, 'x-kestra-groups'), 'kestra-devs');
    assert.equal(echoedHeader(echo, 'x-kestra-tenant'), 'main');
    assert.equal(echo.headers['x-kestra-email'], undefined, 'an empty auth_request_set value drops the client header');
    const seen = fx.seen.at(-1)!;
    assert.equal(seen.method, 'DELETE');
    assert.equal(seen.query, 'a=1');
    assert.equal(seen.host, '127.0.0.1');
  });

  test('a public route with a spoofed identity: nothing of it reaches the upstream', async () => {
    const { res, text } = await viaNginx('/healthz', { 'x-kestra-user': 'admin', 'x-kestra-groups': 'admins' });
    assert.equal(res.status, 200, text);
    const echo = JSON.parse(text) as EchoedRequest;
    assert.equal(echo.headers['x-kestra-user'], undefined);
    assert.equal(echo.headers['x-kestra-groups'], undefined);
  });

  test('401: no credentials → 401 JSON with the challenge; the upstream is not reached', async () => {
    const before = upstream.requests.length;
    const { res, text } = await viaNginx('/api/v1/main/flows/company.team/x', { accept: 'application/json' });
    assert.equal(res.status, 401);
    assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer realm="kestra-authz"/);
    assert.equal((JSON.parse(text) as { error: string }).error, 'unauthorized');
    assert.equal(upstream.requests.length, before);
  });

  test('403: authenticated but not permitted', async () => {
    const before = upstream.requests.length;
    const { res } = await viaNginx('/api/v1/main/flows/company.other/x', { authorization: `Bearer ${await fx.devToken()}` });
    assert.equal(res.status, 403);
    assert.equal(upstream.requests.length, before);
  });

  test('a login redirect through auth_request comes back as 302 + Location + every Set-Cookie', async () => {
    const { res } = await viaNginx(LOGIN_REQUIRED_PATH, { accept: 'text/html' });
    assert.equal(res.status, 302);
    assert.equal(res.headers.get('location'), IDP_AUTHORIZE);
    // nginx 1.22's $upstream_http_set_cookie holds the first Set-Cookie only: the recipe reads the numbered copies.
    assert.deepEqual(res.headers.getSetCookie(), ['OAUTH2_STATE_a=s1; Path=/; HttpOnly; SameSite=Lax', 'OAUTH2_NONCE_a=n1; Path=/; HttpOnly; SameSite=Lax']);
  });

  test('our own endpoints proxied straight to the door keep every Set-Cookie', async () => {
    const { res } = await viaNginx(LOGIN_PATH);
    assert.equal(res.status, 302);
    assert.equal(res.headers.get('location'), IDP_AUTHORIZE);
    assert.equal(res.headers.getSetCookie().length, 2);
  });
});

/**
 * Issue 13: nginx passes every client header to the auth subrequest, so a
 * client's X-Forwarded-Uri / -Method used to re-describe the request (an
 * anonymous DELETE judged as `GET /ping`). The recipe now blanks them; the
 * door's default trust refuses them even behind the old recipe; under
 * `trust: nginx` it never reads them. Every pairing is run.
 */
describe('nginx auth_request: a client cannot re-describe the request (issue 13)', { skip }, () => {
  const FLOW = '/api/v1/main/flows/company.team/f';
  const WEBHOOK = '/api/v1/main/executions/webhook/company.team/f/key';
  let upstream: Upstream;
  const fixtures = new Map<string, HttpFixture>();
  const proxies: { name: string; nginx: RunningProxy; fx: HttpFixture; blanking: boolean }[] = [];

  before(async () => {
    upstream = await startUpstream();
    for (const trust of ['default', 'nginx']) {
      const fx = await startHttpFixture(trust === 'default' ? {} : { trust });
      fixtures.set(trust, fx);
      for (const blanking of [true, false]) {
        const nginx = await startNginx(nginxAuthRequest({ authz: `http://127.0.0.1:${fx.service.httpPort}`, upstream: upstream.url, withoutBlanking: !blanking }));
        proxies.push({ name: `${blanking ? 'recipe' : 'old recipe (no blanking)'}, trust ${trust}`, nginx, fx, blanking });
      }
    }
  });

  after(async () => {
    for (const p of proxies) await p.nginx.stop();
    for (const fx of fixtures.values()) await fx.stop();
    await upstream?.stop();
  });

  /** Refused: never a 200, the upstream never reached. The door's 400 is nginx's 500 (auth_request knows 2xx/401/403 only). */
  const assertRefused = async (p: (typeof proxies)[number], path: string, method: string, headers: Record<string, string | string[]>, expected: number[]) => {
    const before = upstream.requests.length;
    const res = await rawCall(p.nginx.url, path, headers, method);
    assert.ok(expected.includes(res.status), `${p.name}: ${method} ${path} → ${res.status} ${res.body}`);
    assert.equal(upstream.requests.length, before, `${p.name}: the upstream was reached`);
    return res.status;
  };
  /** What the door answers when only the old recipe lets the client's header through under the default trust. */
  const refusedOr = (p: (typeof proxies)[number], decided: number) => (!p.blanking && p.fx === fixtures.get('default') ? [500] : [decided]);

  test('anonymous DELETE with X-Forwarded-Uri: /ping → 401 (or refused), never the upstream', async () => {
    for (const p of proxies) {
      await assertRefused(p, FLOW, 'DELETE', { 'x-forwarded-uri': '/ping', accept: 'application/json' }, refusedOr(p, 401));
      await assertRefused(p, FLOW, 'DELETE', { 'x-forwarded-uri': '/ping', 'x-forwarded-method': 'GET', accept: 'application/json' }, refusedOr(p, 401));
    }
  });

  test('a viewer\'s DELETE with X-Forwarded-Method: GET → 403 (or refused), never the upstream', async () => {
    for (const p of proxies) {
      const status = await assertRefused(p, FLOW, 'DELETE', { ...p.fx.basic('visitor', 'visitor-pass-1'), 'x-forwarded-method': 'GET' }, refusedOr(p, 403));
      if (status === 403) assert.equal(p.fx.seen.at(-1)!.method, 'DELETE', p.name);
    }
  });

  test('two X-Forwarded-Uri lines aimed at the public webhook rule → not allowed, never the upstream', async () => {
    for (const p of proxies) {
      await assertRefused(p, FLOW, 'GET', { 'x-forwarded-uri': [WEBHOOK, FLOW], 'x-forwarded-method': 'GET', accept: 'application/json' }, refusedOr(p, 401));
    }
  });

  test('a client\'s X-Original-URI / -Method are overwritten by the recipe', async () => {
    for (const p of proxies) {
      await assertRefused(p, FLOW, 'DELETE', { 'x-original-uri': '/ping', 'x-original-method': 'GET', accept: 'application/json' }, [401]);
      assert.equal(p.fx.seen.at(-1)!.path, FLOW, p.name);
    }
  });

  test('control: honest requests still pass through every pairing, judged on the real method and URI', async () => {
    for (const p of proxies) {
      const read = await rawCall(p.nginx.url, `${FLOW}?a=1`, p.fx.basic('visitor', 'visitor-pass-1'));
      assert.equal(read.status, 200, `${p.name}: ${read.body}`);
      const del = await rawCall(p.nginx.url, FLOW, p.fx.basic('ops', 'correct-horse-1'), 'DELETE');
      assert.equal(del.status, 200, `${p.name}: ${del.body}`);
      const seen = p.fx.seen.at(-1)!;
      assert.equal(seen.method, 'DELETE');
      assert.equal(seen.path, FLOW);
      assert.equal((JSON.parse(del.body) as EchoedRequest).method, 'DELETE');
    }
  });

  test('our own endpoints through the recipe: a client\'s forward-auth headers are blanked, the login is served', async () => {
    for (const p of proxies.filter((x) => x.blanking)) {
      const res = await rawCall(p.nginx.url, LOGIN_PATH, { 'x-forwarded-uri': FLOW, 'x-forwarded-method': 'GET', 'x-original-uri': FLOW, 'x-original-method': 'GET' });
      assert.equal(res.status, 302, p.name);
      assert.equal(p.fx.seen.at(-1)!.path, LOGIN_PATH);
    }
  });
});
