/**
 * JwksCache against real HTTP servers: fetch, discovery, filtering of keys,
 * single flight, cooldown, background refresh, stale keys kept when the
 * issuer goes away, metrics. (HTTP failure modes: jwks-fetch.test.ts.)
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { exportJWK, generateKeyPair } from 'jose';
import { JwksCache, type JwksCacheOptions } from '../../src/authn/jwks-cache.js';
import { reuseJwksCaches } from '../../src/authn/jwks-caches.js';
import { cleanupAfterEach } from '../helpers/cleanup-after-each.js';
import { metricValue } from '../helpers/metric-value.js';
import { fakeClock, startJwksServer, startJwksServerFor, unreachableUrl } from './jwks-server.js';

const FETCHES = 'kestra_authz_jwks_fetch_total';

describe('JwksCache', () => {
  const defer = cleanupAfterEach();
  const server = () => startJwksServerFor(defer);

  function cache(options: Partial<JwksCacheOptions> & { issuer: string }): JwksCache {
    const c = new JwksCache({ algorithms: ['RS256', 'ES256'], maxAgeMs: 600_000, cooldownMs: 30_000, timeoutMs: 2_000, ...options });
    defer(() => c.close());
    return c;
  }

  test('start() fetches the configured jwks_uri, imports keys, counts the fetch', async () => {
    const s = await server();
    await s.addKey('r1', 'RS256');
    await s.addKey('e1', 'ES256');
    const before = await metricValue(FETCHES, { issuer: s.issuer, result: 'ok' });
    const c = cache({ issuer: s.issuer, jwksUri: s.jwksUri });
    assert.equal(c.hasKeySet, false);
    assert.equal(await c.start(), true);
    assert.equal(c.keyCount, 2);
    assert.equal(c.lastError, undefined);
    assert.ok(c.lastFetchAt !== undefined);
    assert.equal(s.requests.jwks, 1);
    assert.equal(s.requests.discovery, 0);
    assert.equal(await metricValue(FETCHES, { issuer: s.issuer, result: 'ok' }), before + 1);
    assert.equal(await metricValue('kestra_authz_jwks_keys', { issuer: s.issuer }), 2);
    assert.equal((await c.getKey('RS256', 'r1')).kind, 'key');
    assert.equal((await c.getKey('ES256', 'e1')).kind, 'key');
    // a kid with the wrong algorithm is no match
    assert.equal((await c.getKey('ES256', 'r1')).kind, 'unknown_kid');
  });

  test('discovery finds jwks_uri when none is configured', async () => {
    const s = await server();
    await s.addKey('r1');
    const c = cache({ issuer: s.issuer });
    assert.equal(await c.start(), true);
    assert.equal(c.jwksUri, s.jwksUri);
    assert.equal(s.requests.discovery, 1);
    assert.equal(c.keyCount, 1);
  });

  test('keys that must not verify are skipped; the rest of the set counts', async () => {
    const s = await server();
    await s.addKey('good', 'RS256');
    await s.addKey('no-alg', 'RS256', { jwkAlg: false });
    const enc = await generateKeyPair('RSA-OAEP-256', { extractable: true });
    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const privateRsa = await generateKeyPair('RS256', { extractable: true });
    const es = await generateKeyPair('ES384', { extractable: true });
    s.extraJwks.push(
      { ...(await exportJWK(enc.publicKey)), kid: 'enc', use: 'enc' },
      { ...(await exportJWK(privateRsa.publicKey)), kid: 'ops', key_ops: ['encrypt'] },
      { kty: 'oct', k: 'c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0', kid: 'hmac', alg: 'HS256' },
      { ...(weak.publicKey.export({ format: 'jwk' }) as object), kid: 'weak', alg: 'RS256' },
      { ...(await exportJWK(privateRsa.privateKey)), kid: 'private', alg: 'RS256' },
      { ...(await exportJWK(es.publicKey)), kid: 'es384', alg: 'ES384' },
      { ...(await exportJWK(privateRsa.publicKey)), kid: 'mislabelled', alg: 'ES256' },
      { kty: 'RSA', n: '!!!', e: 'AQAB', kid: 'garbage', alg: 'RS256' },
      { kty: 'RSA', kid: 7 } as never,
    );
    const c = cache({ issuer: s.issuer, jwksUri: s.jwksUri });
    assert.equal(await c.start(), true);
    assert.equal(c.keyCount, 2);
    assert.equal((await c.getKey('RS256', 'good')).kind, 'key');
    assert.equal((await c.getKey('RS256', 'no-alg')).kind, 'key');
    for (const kid of ['enc', 'ops', 'hmac', 'weak', 'private', 'es384', 'mislabelled', 'garbage']) {
      assert.equal((await c.getKey('RS256', kid)).kind, 'unknown_kid', kid);
    }
    assert.equal((await c.getKey('HS256', 'hmac')).kind, 'unknown_kid');
  });

  test('a key without kid is used by kid-less tokens only when it is the only fit', async () => {
    const s = await server();
    const k = await s.addKey('r1');
    s.publish('r1', false);
    const { kid: _kid, ...noKid } = k.publicJwk;
    s.extraJwks.push(noKid);
    const c = cache({ issuer: s.issuer, jwksUri: s.jwksUri });
    await c.start();
    assert.equal((await c.getKey('RS256', undefined)).kind, 'key');
    s.publish('r1', true);
    await c.refresh();
    assert.equal((await c.getKey('RS256', undefined)).kind, 'ambiguous');
  });

  test('one fetch in flight: concurrent callers share it', async () => {
    const s = await server();
    await s.addKey('r1');
    const c = cache({ issuer: s.issuer, jwksUri: s.jwksUri });
    const results = await Promise.all([c.start(), c.refresh(), c.getKey('RS256', 'r1'), c.getKey('RS256', 'r1')]);
    assert.equal(s.requests.jwks, 1);
    assert.equal(results[0], true);
    assert.equal((results[2] as { kind: string }).kind, 'key');
  });

  test('unknown kid refetches once per cooldown', async () => {
    const s = await server();
    await s.addKey('r1');
    const clock = fakeClock();
    const c = cache({ issuer: s.issuer, jwksUri: s.jwksUri, now: clock.now });
    await c.start();
    assert.equal((await c.getKey('RS256', 'nope')).kind, 'unknown_kid');
    assert.equal(s.requests.jwks, 1, 'inside the cooldown: no refetch');
    clock.advance(30_000);
    assert.equal((await c.getKey('RS256', 'nope')).kind, 'unknown_kid');
    assert.equal((await c.getKey('RS256', 'nope2')).kind, 'unknown_kid');
    assert.equal(s.requests.jwks, 2, 'one refetch after the cooldown');
  });

  test('a stale set answers at once and is refreshed in the background', async () => {
    const s = await server();
    await s.addKey('r1');
    const clock = fakeClock();
    const c = cache({ issuer: s.issuer, jwksUri: s.jwksUri, now: clock.now, maxAgeMs: 60_000, cooldownMs: 10_000 });
    await c.start();
    clock.advance(59_000);
    assert.equal((await c.getKey('RS256', 'r1')).kind, 'key');
    assert.equal(c.fetching, false);
    clock.advance(1_000);
    assert.equal((await c.getKey('RS256', 'r1')).kind, 'key');
    await c.whenIdle();
    assert.equal(s.requests.jwks, 2);
    assert.equal(c.lastFetchAt, clock.now());
  });

  test('issuer gone: known keys kept, unknown kid denied, attempts rate-limited', async () => {
    const s = await startJwksServer();
    await s.addKey('r1');
    const clock = fakeClock();
    const c = cache({ issuer: s.issuer, jwksUri: s.jwksUri, now: clock.now, maxAgeMs: 60_000, cooldownMs: 10_000 });
    await c.start();
    await s.stop();
    clock.advance(3_600_000);
    const errorsBefore = await metricValue(FETCHES, { issuer: s.issuer, result: 'error' });
    assert.equal((await c.getKey('RS256', 'r1')).kind, 'key');
    await c.whenIdle();
    assert.equal(c.lastError?.code, 'ERR_JWKS_FETCH');
    assert.equal(c.keyCount, 1);
    assert.equal((await c.getKey('RS256', 'other')).kind, 'unknown_kid');
    assert.equal((await c.getKey('RS256', 'r1')).kind, 'key');
    assert.equal(await metricValue(FETCHES, { issuer: s.issuer, result: 'error' }), errorsBefore + 1, 'one attempt per cooldown');
  });

  test('issuer down from the start: unavailable, retried after the cooldown only', async () => {
    const issuer = await unreachableUrl();
    const clock = fakeClock();
    const c = cache({ issuer, now: clock.now });
    assert.equal(await c.start(), false);
    assert.equal(c.lastError?.result, 'error');
    assert.equal((await c.getKey('RS256', 'r1')).kind, 'unavailable');
    assert.equal(c.lastAttemptAt, clock.now());
    clock.advance(30_000);
    assert.equal((await c.getKey('RS256', 'r1')).kind, 'unavailable');
    assert.equal(c.lastAttemptAt, clock.now(), 'retried once the cooldown passed');
  });

  test('close() aborts and refuses new fetches; held keys stay usable', async () => {
    const s = await server();
    await s.addKey('r1');
    const c = cache({ issuer: s.issuer, jwksUri: s.jwksUri, cooldownMs: 0 });
    await c.start();
    c.close();
    assert.equal(await c.refresh(), false);
    assert.equal((await c.getKey('RS256', 'r1')).kind, 'key');
    assert.equal(s.requests.jwks, 1);
  });

  test('bad options are refused at construction, naming the option', () => {
    const base = { issuer: 'https://idp', algorithms: ['RS256'], maxAgeMs: 1, cooldownMs: 1, timeoutMs: 1 };
    assert.throws(() => new JwksCache({ ...base, algorithms: [] }), /algorithms/);
    assert.throws(() => new JwksCache({ ...base, timeoutMs: 0 }), /timeoutMs/);
    assert.throws(() => new JwksCache({ ...base, cooldownMs: Number.NaN }), /cooldownMs/);
    assert.throws(() => new JwksCache({ ...base, jwksUri: 'not a url' }), /jwksUri/);
  });

  test('reuseJwksCaches keeps caches whose settings did not change', () => {
    const bearer = {
      clockSkewSeconds: 30, jwksMaxAgeSeconds: 600, jwksCooldownSeconds: 30, jwksTimeoutMs: 5000,
      issuers: [
        { issuer: 'https://a', audiences: ['k'], algorithms: ['RS256'], from: [] },
        { issuer: 'https://b', audiences: ['k'], algorithms: ['RS256'], from: [] },
      ],
    };
    const first = reuseJwksCaches(bearer);
    assert.equal(first.created.length, 2);
    const second = reuseJwksCaches({
      ...bearer,
      issuers: [bearer.issuers[0]!, { issuer: 'https://b', audiences: ['k'], algorithms: ['ES256'], from: [] }],
    }, first.caches);
    assert.equal(second.caches.get('https://a'), first.caches.get('https://a'));
    assert.notEqual(second.caches.get('https://b'), first.caches.get('https://b'));
    assert.deepEqual(second.retired, [first.caches.get('https://b')]);
    assert.equal(second.created.length, 1);
  });
});
