/**
 * Fetching keys over real HTTP: discovery checks, bounded reads, no
 * redirects, and every failure typed (code + metric result) with safe text.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { JwksCache } from '../../src/authn/jwks-cache.js';
import { JwksFetchError, describeUrl, discoverJwksUri, discoveryUrlOf } from '../../src/authn/jwks-fetch.js';
import { cleanupAfterEach } from '../helpers/cleanup-after-each.js';
import { metricValue } from '../helpers/metric-value.js';
import { startJwksServerFor } from './jwks-server.js';

const fetches = (issuer: string, result: string) => metricValue('kestra_authz_jwks_fetch_total', { issuer, result });

const limits = { timeoutMs: 2_000, maxBytes: 64 * 1024 };

describe('JWKS fetching', () => {
  const defer = cleanupAfterEach();
  const server = () => startJwksServerFor(defer);

  test('discovery returns jwks_uri when the document names the configured issuer', async () => {
    const s = await server();
    assert.equal(await discoverJwksUri(s.issuer, limits), s.jwksUri);
    assert.equal(discoveryUrlOf('https://idp/realms/x/'), 'https://idp/realms/x/.well-known/openid-configuration');
  });

  test('a discovery document naming another issuer is refused, and no JWKS is fetched', async () => {
    const s = await server();
    await s.addKey('r1');
    s.discoveryIssuer = 'https://evil.example.com';
    await assert.rejects(discoverJwksUri(s.issuer, limits), (err: unknown) =>
      err instanceof JwksFetchError && err.code === 'ERR_JWKS_INVALID' && err.result === 'invalid');
    const c = new JwksCache({ issuer: s.issuer, algorithms: ['RS256'], maxAgeMs: 1, cooldownMs: 1, timeoutMs: 2_000 });
    defer(() => c.close());
    assert.equal(await c.start(), false);
    assert.equal(c.lastError?.result, 'invalid');
    assert.equal(s.requests.jwks, 0);
    assert.equal((await c.getKey('RS256', 'r1')).kind, 'unavailable');
  });

  test('typed failures: HTTP status, not JSON, no keys array, too large, redirect, timeout', async () => {
    const s = await server();
    const c = new JwksCache({
      issuer: s.issuer, jwksUri: s.jwksUri, algorithms: ['RS256'],
      maxAgeMs: 1, cooldownMs: 0, timeoutMs: 300, maxResponseBytes: 64 * 1024,
    });
    defer(() => c.close());
    const cases: [() => void, string][] = [
      [() => { s.jwksStatus = 500; }, 'error'],
      [() => { s.jwksStatus = 200; s.jwksBody = '<html>'; }, 'invalid'],
      [() => { s.jwksBody = '{"keys": {}}'; }, 'invalid'],
      [() => { s.jwksBody = '[]'; }, 'invalid'],
      [() => { s.jwksBody = JSON.stringify({ keys: [], pad: 'x'.repeat(100 * 1024) }); }, 'invalid'],
      [() => { s.jwksBody = undefined; s.jwksStatus = 302; }, 'error'],
      [() => { s.jwksStatus = 200; s.silent = true; }, 'timeout'],
    ];
    for (const [arrange, result] of cases) {
      arrange();
      const before = await fetches(s.issuer, result);
      assert.equal(await c.refresh(), false);
      assert.equal(c.lastError?.result, result);
      assert.equal(c.lastError?.code, result === 'invalid' ? 'ERR_JWKS_INVALID' : 'ERR_JWKS_FETCH');
      assert.equal(await fetches(s.issuer, result), before + 1);
    }
    assert.equal(c.hasKeySet, false);
  });

  test('a garbage answer after a good one keeps the keys', async () => {
    const s = await server();
    await s.addKey('r1');
    const c = new JwksCache({ issuer: s.issuer, jwksUri: s.jwksUri, algorithms: ['RS256'], maxAgeMs: 1, cooldownMs: 0, timeoutMs: 2_000 });
    defer(() => c.close());
    assert.equal(await c.start(), true);
    s.jwksBody = 'not json';
    assert.equal(await c.refresh(), false);
    assert.equal(c.keyCount, 1);
    assert.equal((await c.getKey('RS256', 'r1')).kind, 'key');
  });

  test('a redirect is not followed', async () => {
    const target = await server();
    await target.addKey('r1');
    const redirector = createServer((_req, res) => res.writeHead(302, { location: target.jwksUri }).end());
    await new Promise<void>((resolve) => redirector.listen(0, '127.0.0.1', resolve));
    defer(() => new Promise<void>((resolve) => redirector.close(() => resolve())));
    const uri = `http://127.0.0.1:${(redirector.address() as AddressInfo).port}/jwks`;
    const c = new JwksCache({ issuer: 'https://idp', jwksUri: uri, algorithms: ['RS256'], maxAgeMs: 1, cooldownMs: 1, timeoutMs: 2_000 });
    defer(() => c.close());
    assert.equal(await c.start(), false);
    assert.equal(c.lastError?.message, `${uri}: HTTP 302`);
    assert.equal(target.requests.jwks, 0);
  });

  test('messages show URLs without credentials or query strings', () => {
    assert.equal(describeUrl('https://user:pw@idp.example.com/keys?api_key=s3cret'), 'https://idp.example.com/keys');
    assert.equal(describeUrl('not a url'), '<invalid URL>');
  });
});
