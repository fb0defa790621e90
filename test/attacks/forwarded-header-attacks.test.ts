/**
 * The HTTP door judges exactly the method and URI the proxy will serve
 * (issue 13): called directly, with every `authz.http.forward-auth.trust`
 * value, a client that can add headers never re-describes the request — a
 * header the door reads arriving twice is a 400, two dialects that disagree
 * are a 400, and under a declared proxy only that proxy's headers are read.
 * The real service on free ports; repeated header lines sent with node:http.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rawCall, rawHeadStatus } from '../helpers/raw-http.js';
import { startHttpFixture, type HttpFixture } from '../http/service-fixture.js';

const FLOW = '/api/v1/main/flows/company.team/f';
/** A public rule (Kestra's webhook trigger): what a joined or spoofed URI aimed at. */
const WEBHOOK = '/api/v1/main/executions/webhook/company.team/f/key';

describe('forwarded headers, default trust (auto)', () => {
  let fx: HttpFixture;
  before(async () => { fx = await startHttpFixture(); });
  after(async () => { await fx?.stop(); });

  const refused = async (headers: Record<string, string | string[]>, name: RegExp) => {
    const before = fx.seen.length;
    const res = await rawCall(fx.door, '/forward-auth', headers);
    assert.equal(res.status, 400, res.body);
    assert.equal(res.json().error, 'bad_request');
    assert.match(res.json().message!, name);
    assert.equal(fx.seen.length, before, 'nothing was decided');
    return res;
  };

  test('two X-Forwarded-Uri lines (joined, they matched the public webhook rule) → 400, nothing decided', async () => {
    const res = await refused({ 'x-forwarded-method': 'GET', 'x-forwarded-uri': [WEBHOOK, FLOW] }, /x-forwarded-uri arrived more than once/);
    assert.doesNotMatch(res.body, /webhook|company\.team/, 'header values are never echoed');
  });

  test('every other header the door reads, repeated → 400', async () => {
    const base = { 'x-forwarded-method': 'GET', 'x-forwarded-uri': FLOW };
    await refused({ ...base, 'x-forwarded-method': ['GET', 'DELETE'] }, /x-forwarded-method/);
    await refused({ 'x-original-method': 'GET', 'x-original-uri': [WEBHOOK, FLOW] }, /x-original-uri/);
    await refused({ 'x-original-uri': FLOW, 'x-original-method': ['GET', 'DELETE'] }, /x-original-method/);
    await refused({ ...base, 'x-forwarded-host': ['kestra.example.com', 'evil.example'] }, /x-forwarded-host/);
    await refused({ ...base, 'x-forwarded-proto': ['https', 'http'] }, /x-forwarded-proto/);
    await refused({ ...base, 'x-forwarded-for': ['203.0.113.7', '127.0.0.1'] }, /x-forwarded-for/);
    // …on the ext_authz prefix and our own endpoints too
    const ext = await rawCall(fx.door, `/ext_authz${FLOW}`, { 'x-forwarded-proto': ['https', 'http'] });
    assert.equal(ext.status, 400);
    const own = await rawCall(fx.door, '/login', { 'x-forwarded-host': ['a.example', 'b.example'] });
    assert.equal(own.status, 400);
    // two Host lines (Node accepts them and keeps the first in req.headers)
    assert.equal(await rawHeadStatus(fx.service.httpPort, `GET /ext_authz${FLOW} HTTP/1.1\r\nHost: kestra.example.com\r\nHost: evil.example`), 400);
  });

  test('X-Forwarded-Uri and X-Original-URI disagreeing (the old nginx recipe passed the client\'s) → 400', async () => {
    await refused({ 'x-original-uri': FLOW, 'x-original-method': 'DELETE', 'x-forwarded-uri': '/ping' }, /x-forwarded-uri and x-original-uri/);
  });

  test('X-Forwarded-Method and X-Original-Method disagreeing → 400, whichever dialect carries the URI', async () => {
    await refused({ 'x-original-uri': FLOW, 'x-original-method': 'DELETE', 'x-forwarded-method': 'GET' }, /x-forwarded-method and x-original-method/);
    await refused({ 'x-forwarded-uri': FLOW, 'x-forwarded-method': 'DELETE', 'x-original-method': 'GET' }, /x-forwarded-method and x-original-method/);
  });

  test('a URI without its dialect\'s method → 400 (never a client-chosen or default GET)', async () => {
    await refused({ 'x-original-uri': FLOW }, /x-original-uri without x-original-method/);
    await refused({ 'x-forwarded-uri': FLOW }, /x-forwarded-uri without x-forwarded-method/);
    await refused({ 'x-original-uri': FLOW, 'x-forwarded-method': 'GET' }, /x-forwarded-method and x-original-method|without x-original-method/);
  });

  test('one dialect, or both agreeing, is decided as described; a blanked (empty) header describes nothing', async () => {
    const viewer = fx.basic('visitor', 'visitor-pass-1');
    const nginx = await rawCall(fx.door, '/forward-auth', { ...viewer, 'x-original-uri': FLOW, 'x-original-method': 'DELETE' });
    assert.equal(nginx.status, 403);
    assert.equal(fx.seen.at(-1)!.method, 'DELETE');
    const both = await rawCall(fx.door, '/forward-auth', { ...viewer, 'x-original-uri': FLOW, 'x-original-method': 'GET', 'x-forwarded-uri': FLOW, 'x-forwarded-method': 'GET' });
    assert.equal(both.status, 200);
    const blanked = await rawCall(fx.door, '/forward-auth', { ...viewer, 'x-forwarded-uri': '', 'x-forwarded-method': '', 'x-original-uri': FLOW, 'x-original-method': 'DELETE' });
    assert.equal(blanked.status, 403);
    assert.equal(fx.seen.at(-1)!.path, FLOW);
  });

  test('the ext_authz prefix wins over any forwarded description', async () => {
    const res = await rawCall(fx.door, `/ext_authz${FLOW}`, { 'x-forwarded-uri': '/ping', 'x-forwarded-method': 'GET', 'x-original-uri': '/ping', 'x-original-method': 'GET', accept: 'application/json' }, 'DELETE');
    assert.equal(res.status, 401);
    assert.equal(fx.seen.at(-1)!.path, FLOW);
    assert.equal(fx.seen.at(-1)!.method, 'DELETE');
  });
});

describe('forwarded headers, declared proxies', () => {
  const fixtures = new Map<string, HttpFixture>();
  before(async () => {
    for (const trust of ['nginx', 'caddy', 'traefik', 'envoy']) fixtures.set(trust, await startHttpFixture({ trust }));
  });
  after(async () => { for (const fx of fixtures.values()) await fx.stop(); });
  const fx = (trust: string) => fixtures.get(trust)!;

  test('nginx: only X-Original-URI/-Method are read; a client\'s X-Forwarded-Uri/-Method change nothing', async () => {
    const f = fx('nginx');
    const anonymous = await rawCall(f.door, '/forward-auth', { 'x-original-uri': FLOW, 'x-original-method': 'DELETE', 'x-forwarded-uri': '/ping', 'x-forwarded-method': 'GET', accept: 'application/json' });
    assert.equal(anonymous.status, 401);
    assert.equal(f.seen.at(-1)!.path, FLOW);
    assert.equal(f.seen.at(-1)!.method, 'DELETE');
    const viewer = await rawCall(f.door, '/forward-auth', { ...f.basic('visitor', 'visitor-pass-1'), 'x-original-uri': FLOW, 'x-original-method': 'DELETE', 'x-forwarded-method': 'GET' });
    assert.equal(viewer.status, 403);
    // repeats of a header nginx's dialect does not read are not read at all
    const joined = await rawCall(f.door, '/forward-auth', { 'x-original-uri': FLOW, 'x-original-method': 'GET', 'x-forwarded-uri': [WEBHOOK, FLOW], accept: 'application/json' });
    assert.equal(joined.status, 401);
    // …but its own, repeated, are refused
    assert.equal((await rawCall(f.door, '/forward-auth', { 'x-original-uri': [WEBHOOK, FLOW], 'x-original-method': 'GET' })).status, 400);
    // the other dialect alone is no forward-auth request, and the ext_authz prefix is not served
    const before = f.seen.length;
    assert.equal((await rawCall(f.door, '/forward-auth', { 'x-forwarded-uri': '/ping', 'x-forwarded-method': 'GET' })).status, 404);
    assert.equal((await rawCall(f.door, '/ext_authz/ping', {})).status, 404);
    assert.equal(f.seen.length, before);
  });

  for (const trust of ['caddy', 'traefik']) {
    test(`${trust}: only X-Forwarded-Uri/-Method are read; a client's X-Original-URI/-Method change nothing`, async () => {
      const f = fx(trust);
      const anonymous = await rawCall(f.door, '/forward-auth', { 'x-forwarded-uri': FLOW, 'x-forwarded-method': 'DELETE', 'x-original-uri': '/ping', 'x-original-method': 'GET', accept: 'application/json' });
      assert.equal(anonymous.status, 401);
      assert.equal(f.seen.at(-1)!.path, FLOW);
      assert.equal(f.seen.at(-1)!.method, 'DELETE');
      const viewer = await rawCall(f.door, '/forward-auth', { ...f.basic('visitor', 'visitor-pass-1'), 'x-forwarded-uri': FLOW, 'x-forwarded-method': 'DELETE', 'x-original-method': 'GET' });
      assert.equal(viewer.status, 403);
      assert.equal((await rawCall(f.door, '/forward-auth', { 'x-forwarded-uri': [WEBHOOK, FLOW], 'x-forwarded-method': 'GET' })).status, 400);
      assert.equal((await rawCall(f.door, '/forward-auth', { 'x-forwarded-uri': FLOW })).status, 400, 'the method is required');
      const before = f.seen.length;
      assert.equal((await rawCall(f.door, '/forward-auth', { 'x-original-uri': '/ping', 'x-original-method': 'GET' })).status, 404);
      assert.equal((await rawCall(f.door, '/ext_authz/ping', {})).status, 404);
      assert.equal(f.seen.length, before);
    });
  }

  test('envoy: forward-auth is off; the ext_authz prefix decides the request\'s own method and path', async () => {
    const f = fx('envoy');
    const before = f.seen.length;
    const descriptions: Record<string, string>[] = [{ 'x-forwarded-uri': '/ping', 'x-forwarded-method': 'GET' }, { 'x-original-uri': '/ping', 'x-original-method': 'GET' }];
    for (const headers of descriptions) {
      const res = await rawCall(f.door, '/forward-auth', headers);
      assert.equal(res.status, 404);
    }
    assert.equal(f.seen.length, before, 'nothing decided');
    const ext = await rawCall(f.door, `/ext_authz${FLOW}`, { 'x-forwarded-uri': '/ping', 'x-forwarded-method': 'GET', 'x-original-uri': '/ping', accept: 'application/json' }, 'DELETE');
    assert.equal(ext.status, 401);
    assert.equal(f.seen.at(-1)!.path, FLOW);
    assert.equal(f.seen.at(-1)!.method, 'DELETE');
    assert.equal((await rawCall(f.door, `/ext_authz${FLOW}`, { 'x-forwarded-for': ['203.0.113.7', '10.0.0.1'] })).status, 400);
  });
});
