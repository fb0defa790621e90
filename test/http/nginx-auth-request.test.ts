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
import { nginxAuthRequestServer, proxySkipReason, startNginx, type RunningProxy } from '../helpers/proxies.js';
import { echoedHeader, startUpstream, type EchoedRequest, type Upstream } from '../helpers/upstream.js';
import { IDP_AUTHORIZE, LOGIN_PATH, LOGIN_REQUIRED_PATH, startHttpFixture, type HttpFixture } from './service-fixture.js';

const skip = await proxySkipReason('nginx');

describe('nginx auth_request → HTTP door', { skip }, () => {
  let fx: HttpFixture;
  let upstream: Upstream;
  let nginx: RunningProxy;

  before(async () => {
    fx = await startHttpFixture();
    upstream = await startUpstream();
    nginx = await startNginx({ server: nginxAuthRequestServer({ authz: `http://127.0.0.1:${fx.service.httpPort}`, upstream: upstream.url }) });
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

  test('a login redirect through auth_request comes back as 302 + Location + the state cookie', async () => {
    const { res } = await viaNginx(LOGIN_REQUIRED_PATH, { accept: 'text/html' });
    assert.equal(res.status, 302);
    assert.equal(res.headers.get('location'), IDP_AUTHORIZE);
    // nginx 1.22's $upstream_http_set_cookie holds the first Set-Cookie only
    assert.deepEqual(res.headers.getSetCookie(), ['OAUTH2_STATE_a=s1; Path=/; HttpOnly; SameSite=Lax']);
  });

  test('our own endpoints proxied straight to the door keep every Set-Cookie', async () => {
    const { res } = await viaNginx(LOGIN_PATH);
    assert.equal(res.status, 302);
    assert.equal(res.headers.get('location'), IDP_AUTHORIZE);
    assert.equal(res.headers.getSetCookie().length, 2);
  });
});
