/**
 * REAL Caddy (Debian package) with `forward_auth` to the HTTP door, in front
 * of an echoing upstream. Two recipes: the recommended one (client identity
 * headers stripped in a `route` before forward_auth) and a bare one (no
 * strip), which must be safe too because the door sends every identity
 * header — empty when unset — and Caddy 2.6 would otherwise put the literal
 * placeholder text `{http.reverse_proxy.header.X-Kestra-Email}` upstream.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { caddyForwardAuthSite, KESTRA_IDENTITY_HEADERS, proxySkipReason, startCaddy, type RunningProxy } from '../helpers/proxies.js';
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
    recommended = await startCaddy({ site: caddyForwardAuthSite({ authz, upstream: upstream.url, stripHeaders: KESTRA_IDENTITY_HEADERS }) });
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
