import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createAuthRequest, normalizePath, parseCookieHeader } from '../../src/core/auth-request.js';

describe('normalizePath decides on the path the upstream will serve', () => {
  const cases: [string, string | null][] = [
    ['/api/v1/main/flows', '/api/v1/main/flows'],
    ['/api/v1/main/../x', '/api/v1/x'],
    ['/api/v1/main/%2e%2e/x', '/api/v1/x'],
    ['/api/v1/main/%2E%2E/x', '/api/v1/x'],
    ['/api//v1///main', '/api/v1/main'],
    ['/a/./b/.', '/a/b/'],
    ['/../../etc', '/etc'],
    ['/a/b/..', '/a/'],
    ['/flows/a/', '/flows/a/'], // kept: route matching drops it (routedPath), the login flow returns to it
    ['/flows/a//', '/flows/a/'],
    ['/%61pi', '/api'],
    ['relative', null],
    ['', null],
    // Dot segments another parser could resolve and we would not: refused (null → 400).
    ['/public/..%2Fadmin', null],
    ['/public/..%2fadmin', null],
    ['/public/%2e%2e%2fadmin', null],
    ['/public/x%2F..%2Fadmin', null],
    ['/public/..%5Cadmin', null],
    ['/public/..\\admin', null],
    ['/public\\..\\admin', null],
    ['/public/..;/admin', null],
    ['/public/.;x/admin', null],
    ['/public/..;', null],
    // Encoded separators and path parameters: read differently by different parsers (Netty can decode %2F
    // before Micronaut routes; Tomcat strips ;params, Micronaut's {variables} stop at ';'): refused.
    ['/flows/a%2Fb', null],
    ['/flows/a%2fb', null],
    ['/flows/a%5cb', null],
    ['/a\\b', null],
    ['/a%2F.b', null],
    ['/api/v1/main/flows/f;v=1', null],
    ['/api/v1/main/flows/company.team/f/;x', null],
    ['/api/v1/main/flows/company.team/f%3Bx', null],
    ['/api/v1/main/flows/company.team/f%3bx', null],
    // NUL and controls: no HTTP client sends them.
    ['/admin%00/x', null],
    ['/admin/\u0000x', null],
    ['/admin/\tx', null],
    // Look alike, but are plain segments everywhere: kept.
    ['/a/.../b', '/a/.../b'],
    ['/a/..x/b', '/a/..x/b'],
    ['/.well-known/jwks.json', '/.well-known/jwks.json'],
    ['/a/%0A', '/a/%0A'],
  ];
  for (const [raw, expected] of cases) {
    test(`${JSON.stringify(raw)} → ${JSON.stringify(expected)}`, () => assert.equal(normalizePath(raw), expected));
  }
});

test('createAuthRequest splits the query Envoy leaves in path and lower-cases method/host', () => {
  const req = createAuthRequest({ method: 'get', path: '/a/../b?x=1&y=2', headers: { ':authority': 'Kestra.Example.com', 'x-request-id': 'r1' } })!;
  assert.equal(req.method, 'GET');
  assert.equal(req.path, '/b');
  assert.equal(req.query, 'x=1&y=2');
  assert.equal(req.host, 'kestra.example.com');
  assert.equal(req.id, 'r1');
  assert.equal(createAuthRequest({ method: 'GET', path: 'nope' }), null);
});

test('parseCookieHeader: first occurrence wins, quotes stripped, bounded', () => {
  const c = parseCookieHeader('a=1; b="two"; a=3; junk; c=');
  assert.equal(c.get('a'), '1');
  assert.equal(c.get('b'), 'two');
  assert.equal(c.get('c'), '');
  const many = Array.from({ length: 5000 }, (_, i) => `k${i}=v`).join('; ');
  assert.ok(parseCookieHeader(many).size <= 200);
});
