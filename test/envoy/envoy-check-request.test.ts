/**
 * The envoyCheckRequest() test helper: shaped as Envoy sends it, and read
 * by the real gRPC door (authRequestFromCheck) as the request it describes —
 * including after a round trip through the real proto (de)serializers.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { authRequestFromCheck } from '../../src/server/check-request.js';
import { AUTHORIZATION_SERVICE, loadExtAuthzDefinition } from '../../src/server/envoy-protos.js';
import { envoyCheckRequest } from '../helpers/envoy-check-request.js';

const check = (loadExtAuthzDefinition()[AUTHORIZATION_SERVICE] as unknown as {
  Check: { requestSerialize(v: unknown): Buffer; requestDeserialize(b: Buffer): any };
}).Check;

describe('envoyCheckRequest', () => {
  test('what Envoy puts in attributes.request.http', () => {
    const request = envoyCheckRequest({
      method: 'get',
      path: '/api/v1/main/flows/search?q=x&page=2',
      host: 'kestra.example.com',
      scheme: 'https',
      protocol: 'HTTP/1.1',
      sourceAddress: '203.0.113.5:40000',
      headers: { Host: 'kestra.example.com', Accept: 'text/html', 'X-Dup': ['a', 'b'], Cookie: ['a=1', 'b=2'] },
      id: '42',
    });
    const http = request.attributes.request.http;
    assert.equal(http.id, '42');
    assert.equal(http.method, 'GET');
    assert.equal(http.path, '/api/v1/main/flows/search?q=x&page=2'); // query stays in path
    assert.equal(http.protocol, 'HTTP/1.1');
    assert.equal((http as Record<string, unknown>).query, undefined);
    const h = http.headers!;
    assert.equal(h[':authority'], 'kestra.example.com');
    assert.equal(h[':method'], 'GET');
    assert.equal(h[':path'], '/api/v1/main/flows/search?q=x&page=2');
    assert.equal(h[':scheme'], 'https');
    assert.equal(h.host, undefined); // HTTP/1.1 Host became :authority
    assert.equal(h.accept, 'text/html');
    assert.equal(h['x-dup'], 'a,b');
    assert.equal(h.cookie, 'a=1,b=2'); // HTTP/1.1: two Cookie lines joined like any header
    assert.equal(h['x-forwarded-proto'], 'https');
    assert.equal(h['x-forwarded-for'], '203.0.113.5');
    assert.equal(h['x-envoy-internal'], undefined); // public peer
    assert.match(h['x-request-id']!, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.deepEqual(request.attributes.source.address.socket_address, { address: '203.0.113.5', port_value: 40000 });
    assert.match(request.attributes.request.time.seconds, /^\d+$/);
  });

  test('HTTP/2 cookie crumbs arrive as one header joined with "; "; a private peer is x-envoy-internal', () => {
    const h = envoyCheckRequest({ protocol: 'HTTP/2', sourceAddress: '10.1.2.3', headers: { cookie: ['a=1', 'b=2'] } }).attributes.request.http.headers!;
    assert.equal(h.cookie, 'a=1; b=2');
    assert.equal(h['x-envoy-internal'], 'true');
  });

  test('a client-sent x-request-id is kept; a client-sent x-forwarded-for gets the peer appended', () => {
    const h = envoyCheckRequest({ headers: { 'x-request-id': 'given', 'x-forwarded-for': '192.0.2.1' } }).attributes.request.http.headers!;
    assert.equal(h['x-request-id'], 'given');
    assert.equal(h['x-forwarded-for'], '192.0.2.1,203.0.113.7');
  });

  test('the gRPC door reads it as the request it describes, before and after the wire', () => {
    const request = envoyCheckRequest({
      method: 'POST',
      path: '/api/v1/main/executions/company.team/hello?wait=true',
      host: 'Kestra.Example.com:10000',
      scheme: 'http',
      sourceAddress: '[2001:db8::1]:5555',
      headers: { authorization: 'Basic dXNlcjpwdw==', cookie: 'JWT=abc; other=1' },
    });
    for (const seen of [request, check.requestDeserialize(check.requestSerialize(request))]) {
      const auth = authRequestFromCheck(seen)!;
      assert.ok(auth);
      assert.equal(auth.method, 'POST');
      assert.equal(auth.scheme, 'http');
      assert.equal(auth.path, '/api/v1/main/executions/company.team/hello');
      assert.equal(auth.query, 'wait=true');
      assert.equal(auth.host, 'kestra.example.com:10000');
      assert.equal(auth.sourceAddress, '2001:db8::1');
      assert.equal(auth.id, request.attributes.request.http.headers!['x-request-id']);
      assert.equal(auth.headers.authorization, 'Basic dXNlcjpwdw==');
      assert.equal(auth.cookies.get('JWT'), 'abc');
    }
  });

  test('encode_raw_headers: header_map with byte values reads the same as headers', () => {
    const init = { path: '/ui/flows?x=1', headers: { cookie: 'JWT=abc', 'x-request-id': 'r-1' } };
    const plain = authRequestFromCheck(envoyCheckRequest(init))!;
    const raw = envoyCheckRequest({ ...init, encodeRawHeaders: true });
    assert.equal(raw.attributes.request.http.headers, undefined);
    const fromRaw = authRequestFromCheck(check.requestDeserialize(check.requestSerialize(raw)))!;
    const comparable = (r: typeof plain) => ({ ...r, headers: { ...r.headers }, cookies: [...r.cookies] });
    assert.deepEqual(comparable(fromRaw), comparable(plain));
  });
});
