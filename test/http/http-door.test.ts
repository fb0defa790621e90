/**
 * The HTTP door end to end, called directly: Envoy HTTP ext_authz (path
 * prefix), forward-auth (X-Forwarded-* and nginx's X-Original-*), our own
 * endpoints, limits and failures. The real service on free ports.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { IDP_AUTHORIZE, LOGIN_PATH, startHttpFixture, type HttpFixture } from './service-fixture.js';

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json(): Record<string, string>;
}

describe('HTTP door, called directly', () => {
  let fx: HttpFixture;
  const statuses: number[] = [];

  const call = async (path: string, init: RequestInit = {}): Promise<Answer> => {
    const res = await fetch(`${fx.door}${path}`, { redirect: 'manual', ...init });
    const text = await res.text();
    statuses.push(res.status);
    return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) as Record<string, string> };
  };
  const forwardAuth = (uri: string, headers: Record<string, string> = {}, method = 'GET') =>
    call('/forward-auth', { headers: { 'x-forwarded-method': method, 'x-forwarded-proto': 'https', 'x-forwarded-host': 'kestra.example.com', 'x-forwarded-uri': uri, ...headers } });

  before(async () => { fx = await startHttpFixture(); });
  after(async () => {
    await fx?.stop();
    // Allow is 200, never 202 (oauth2-proxy #2832): checked over every answer of this file.
    assert.ok(!statuses.includes(202), 'a 202 appeared');
  });

  test('ext_authz prefix: allowed → 200, identity headers, headers to remove for Envoy, original path decided', async () => {
    const token = await fx.devToken();
    const res = await call('/ext_authz/api/v1/main/flows/company.team/hello?revision=2', {
      headers: { authorization: `Bearer ${token}`, 'x-kestra-user': 'spoofed', 'x-request-id': 'req-1' },
    });
    assert.equal(res.status, 200);
    assert.equal(res.text, '');
    assert.equal(res.headers.get('x-kestra-user'), 'dev');
    assert.equal(res.headers.get('x-kestra-groups'), 'kestra-devs');
    assert.equal(res.headers.get('x-kestra-tenant'), 'main');
    assert.equal(res.headers.get('x-envoy-auth-headers-to-remove'), 'x-kestra-email,x-kestra-identity');
    assert.equal(res.headers.get('x-kestra-email'), null, 'Envoy mode removes via the list, no empty values');
    assert.equal(res.headers.get('x-request-id'), 'req-1');
    const seen = fx.seen.at(-1)!;
    assert.equal(seen.method, 'GET');
    assert.equal(seen.path, '/api/v1/main/flows/company.team/hello');
    assert.equal(seen.query, 'revision=2');
    assert.equal(seen.host, `127.0.0.1:${fx.service.httpPort}`);
  });

  test('ext_authz prefix: the method is the request\'s own; a public route lists every identity header to remove', async () => {
    const res = await call('/ext_authz/healthz', { method: 'DELETE', headers: { 'x-kestra-user': 'admin' } });
    assert.equal(res.status, 200);
    assert.equal(fx.seen.at(-1)!.method, 'DELETE');
    assert.deepEqual(res.headers.get('x-envoy-auth-headers-to-remove')?.split(','), ['x-kestra-email', 'x-kestra-groups', 'x-kestra-identity', 'x-kestra-tenant', 'x-kestra-user']);
    assert.equal(res.headers.get('x-kestra-user'), null);
  });

  test('ext_authz prefix: no credentials on the API → 401 JSON with WWW-Authenticate', async () => {
    const res = await call('/ext_authz/api/v1/main/flows/company.team/hello', { headers: { accept: 'application/json', 'x-requested-with': 'XMLHttpRequest' } });
    assert.equal(res.status, 401);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer realm="kestra-authz"/);
    assert.equal(res.json().error, 'no_credentials');
    assert.ok(res.json().requestId);
  });

  test('ext_authz prefix: a bad token → 401 invalid_token; without X-Requested-With Basic is offered too', async () => {
    const bad = await call('/ext_authz/api/v1/main/flows/x/y', { headers: { authorization: 'Bearer not.a.jwt' } });
    assert.equal(bad.status, 401);
    assert.equal(bad.json().error, 'token_malformed');
    // fetch() always sends sec-fetch-mode: cors (a script); a plain client gets two WWW-Authenticate lines
    const raw = await new Promise<string[]>((resolve, reject) => {
      request(`${fx.door}/ext_authz/api/v1/main/flows/x/y`, (res) => { res.resume(); resolve(res.rawHeaders); }).on('error', reject).end();
    });
    const challenges = raw.filter((_, i) => i % 2 === 1 && raw[i - 1]!.toLowerCase() === 'www-authenticate');
    assert.equal(challenges.length, 2);
    assert.match(challenges[0]!, /^Bearer realm="kestra-authz"$/);
    assert.match(challenges[1]!, /^Basic realm="kestra-authz"/);
  });

  test('ext_authz prefix: authenticated but not permitted → 403 naming the permission', async () => {
    const res = await call('/ext_authz/api/v1/main/flows/company.other/hello', { headers: { authorization: `Bearer ${await fx.devToken()}` } });
    assert.equal(res.status, 403);
    assert.equal(res.json().error, 'permission_denied');
    assert.equal(res.json().permission, 'FLOW:READ');
    assert.equal(res.json().namespace, 'company.other');
  });

  test('forward-auth: X-Forwarded-* describe the original request; identity headers allowed, the rest sent empty', async () => {
    const res = await forwardAuth('/api/v1/main/flows/company.team/hello?a=1&b=2', { ...fx.basic('ops', 'correct-horse-1'), 'x-kestra-email': 'evil@example.com' }, 'delete');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-kestra-user'), 'ops');
    assert.equal(res.headers.get('x-kestra-email'), '', 'an empty value overwrites a spoofed one in forward-auth proxies');
    const seen = fx.seen.at(-1)!;
    assert.equal(seen.method, 'DELETE');
    assert.equal(seen.scheme, 'https');
    assert.equal(seen.host, 'kestra.example.com');
    assert.equal(seen.path, '/api/v1/main/flows/company.team/hello');
    assert.equal(seen.query, 'a=1&b=2');
  });

  test('forward-auth: deny answers carry status, headers and body; a wrong password is 401 Basic', async () => {
    const denied = await forwardAuth('/api/v1/main/flows/company.other/x', fx.basic('ops', 'correct-horse-1'));
    assert.equal(denied.status, 403);
    assert.equal(denied.json().error, 'permission_denied');
    const wrong = await forwardAuth('/api/v1/main/flows/company.team/x', fx.basic('ops', 'nope'));
    assert.equal(wrong.status, 401);
    assert.match(wrong.headers.get('www-authenticate') ?? '', /^Basic realm=/);
    assert.equal(wrong.json().error, 'basic_bad_credentials');
    assert.doesNotMatch(wrong.text, /nope|correct-horse/);
  });

  test('forward-auth: a redirect keeps Location and both Set-Cookie lines', async () => {
    const res = await forwardAuth(`${LOGIN_PATH}?redirect=/ui`);
    assert.equal(res.status, 302);
    assert.equal(res.headers.get('location'), IDP_AUTHORIZE);
    assert.deepEqual(res.headers.getSetCookie(), ['OAUTH2_STATE_a=s1; Path=/; HttpOnly; SameSite=Lax', 'OAUTH2_NONCE_a=n1; Path=/; HttpOnly; SameSite=Lax']);
  });

  test('nginx dialect (X-Original-URI): a redirect becomes 401 + Location, the original method is X-Original-Method', async () => {
    const res = await call('/forward-auth', { headers: { 'x-original-uri': LOGIN_PATH, 'x-original-method': 'GET' } });
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('location'), IDP_AUTHORIZE);
    await call('/forward-auth', { headers: { 'x-original-uri': '/healthz', 'x-original-method': 'PATCH' } });
    assert.equal(fx.seen.at(-1)!.method, 'PATCH');
  });

  test('direct: our endpoints are decided; anything else is 404 and is not decided', async () => {
    const login = await call(LOGIN_PATH);
    assert.equal(login.status, 302);
    assert.equal(login.headers.getSetCookie().length, 2);
    const before = fx.seen.length;
    for (const path of ['/api/v1/main/flows', '/', '/loginx', '/ext_authzfoo']) {
      const res = await call(path, { headers: fx.basic('ops', 'correct-horse-1') });
      assert.equal(res.status, 404, path);
      assert.equal(res.json().error, 'not_found');
    }
    assert.equal(fx.seen.length, before);
  });

  test('direct: a POST body to our endpoints reaches the core; over MAX_BODY_BYTES is 413', async () => {
    await call('/oauth/callback/test', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'code=abc&state=xyz' });
    assert.equal(fx.seen.at(-1)!.body, 'code=abc&state=xyz');
    const big = await call('/login', { method: 'POST', body: 'x'.repeat(64 * 1024 + 1) });
    assert.equal(big.status, 413);
    assert.equal(big.json().error, 'payload_too_large');
  });

  test('a streamed (chunked) body over the limit is cut off with 413', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${fx.door}/login`, { method: 'POST', headers: { 'transfer-encoding': 'chunked' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      for (let i = 0; i < 20; i++) req.write('y'.repeat(8 * 1024));
      req.end();
    });
    assert.equal(status, 413);
  });

  test('malformed input is a clean 400, never a crash', async () => {
    assert.equal((await call('/ext_authz?x=1')).status, 400);
    assert.equal((await forwardAuth('relative/path')).status, 400);
    assert.equal((await forwardAuth('/x', {}, 'G ET')).status, 400);
    const res = await call('/ext_authz/a', { headers: { 'x-request-id': '<script>' } });
    assert.notEqual(res.headers.get('x-request-id'), '<script>', 'an unsafe request id is replaced, never echoed');
    assert.doesNotMatch(res.text, /<script>/);
    assert.equal((await call('/ext_authz/healthz')).status, 200, 'still serving');
  });

  test('an engine failure is a 500 JSON answer, never an allow', async () => {
    fx.failing = true;
    try {
      const res = await call('/ext_authz/healthz');
      assert.equal(res.status, 500);
      assert.equal(res.json().error, 'internal_error');
      assert.equal(res.headers.get('x-kestra-user'), null);
    } finally {
      fx.failing = false;
    }
  });

  test('decisions are counted with mode="http"', async () => {
    const text = await (await fetch(`http://127.0.0.1:${fx.service.managementPort}/metrics`)).text();
    assert.match(text, /kestra_authz_decisions_total\{result="allow",reason="permitted",mode="http"\} \d+/);
    assert.match(text, /kestra_authz_decisions_total\{result="deny",reason="no_credentials",mode="http"\} \d+/);
    assert.match(text, /kestra_authz_decisions_total\{result="error",reason="internal_error",mode="http"\} \d+/);
  });
});
