/**
 * BearerAuthenticator and the issuer's keys: rotation, rate-limited
 * refetches, foreign kids, an issuer going away or never there, kid-less
 * tokens — against real issuers on a fake clock.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SignJWT, generateKeyPair } from 'jose';
import { COOLDOWN_MS, bearer, reasonOf, startBearerFixture, type BearerFixture } from './bearer-fixture.js';
import { startJwksServer } from './jwks-server.js';

describe('BearerAuthenticator: keys', () => {
  let f: BearerFixture;
  before(async () => { f = await startBearerFixture(); });
  after(() => f.close());

  test('key rotation: a new kid is accepted once a refetch is allowed', async () => {
    f.idp.publish('rsa-2', true);
    const token = await f.idp.sign(f.claims({ sub: 'rotated' }), 'rsa-2');
    const fetches = f.idp.requests.jwks;
    // inside the cooldown since start(): no refetch, denied — and not cached as a failure
    assert.equal(reasonOf(await f.auth.authenticate(bearer(token))), 'token_unknown_kid');
    assert.equal(f.idp.requests.jwks, fetches);
    f.clock.advance(COOLDOWN_MS);
    const result = await f.auth.authenticate(bearer(token));
    assert.equal(result.kind === 'ok' && result.identity.subject, 'rotated');
    assert.equal(f.idp.requests.jwks, fetches + 1);
  });

  test('unknown-kid refetches are rate-limited by the cooldown', async () => {
    f.clock.advance(COOLDOWN_MS);
    const fetches = f.idp.requests.jwks;
    const stranger = await generateKeyPair('RS256');
    const forge = (kid: string) => new SignJWT(f.claims()).setProtectedHeader({ alg: 'RS256', kid }).sign(stranger.privateKey);
    assert.equal(reasonOf(await f.auth.authenticate(bearer(await forge('unknown-1')))), 'token_unknown_kid');
    assert.equal(reasonOf(await f.auth.authenticate(bearer(await forge('unknown-2')))), 'token_unknown_kid');
    assert.equal(f.idp.requests.jwks, fetches + 1);
  });

  test('a token of issuer A carrying B\'s kid is refused', async () => {
    // signed with ci's "ci-only" key, claiming idp: idp has no such kid
    assert.equal(reasonOf(await f.auth.authenticate(bearer(await f.ci.sign(f.claims(), 'ci-only')))), 'token_unknown_kid');
    // both publish a "rsa-1": ci's key cannot pass for idp's
    assert.equal(reasonOf(await f.auth.authenticate(bearer(await f.ci.sign(f.claims(), 'rsa-1')))), 'token_bad_signature');
  });

  test('issuer unreachable from the start → jwks_unavailable (503-class), never an allow', async () => {
    const stranger = await generateKeyPair('RS256');
    const token = await new SignJWT(f.claims({ iss: f.deadIssuer })).setProtectedHeader({ alg: 'RS256', kid: 'k' }).sign(stranger.privateKey);
    const result = await f.auth.authenticate(bearer(token));
    assert.equal(reasonOf(result), 'jwks_unavailable');
    assert.match(result.kind === 'fail' ? result.description : '', /unavailable/);
    assert.equal(f.caches.get(f.deadIssuer)!.lastError?.code, 'ERR_JWKS_FETCH');
  });

  test('issuer goes down: cached keys still verify, an unknown kid is denied', async () => {
    const gone = await startJwksServer();
    await gone.addKey('g1');
    const cache = f.newCache(gone.issuer, gone.jwksUri);
    f.caches.set(gone.issuer, cache);
    try {
      await cache.start();
      // no token cache: every call below really goes to the keys
      const auth = f.build([{ issuer: gone.issuer, audiences: ['kestra'], algorithms: ['RS256'], from: [] }], 0);
      const early = await gone.sign(f.claims({ iss: gone.issuer }), 'g1');
      const stranger = await generateKeyPair('RS256');
      const unknown = await new SignJWT(f.claims({ iss: gone.issuer })).setProtectedHeader({ alg: 'RS256', kid: 'g2' }).sign(stranger.privateKey);
      await gone.stop();
      f.clock.advance(3_600_000); // well past max-age and cooldown
      const late = await gone.sign(f.claims({ iss: gone.issuer }), 'g1');
      assert.equal(reasonOf(await auth.authenticate(bearer(late))), 'ok');
      await cache.whenIdle(); // the background refresh failed…
      assert.equal(cache.lastError?.code, 'ERR_JWKS_FETCH');
      assert.equal(reasonOf(await auth.authenticate(bearer(late))), 'ok'); // …and the keys stayed
      assert.equal(reasonOf(await auth.authenticate(bearer(unknown))), 'token_unknown_kid');
      f.clock.advance(COOLDOWN_MS);
      assert.equal(reasonOf(await auth.authenticate(bearer(unknown))), 'token_unknown_kid');
      assert.equal(reasonOf(await auth.authenticate(bearer(early))), 'token_expired');
    } finally {
      cache.close();
      f.caches.delete(gone.issuer);
    }
  });

  test('kid-less tokens: accepted with exactly one fitting key, refused when ambiguous', async () => {
    const single = await startJwksServer();
    await single.addKey('only');
    const cache = f.newCache(single.issuer, single.jwksUri);
    f.caches.set(single.issuer, cache);
    const config = [{ issuer: single.issuer, audiences: ['kestra'], algorithms: ['RS256'], from: [] }];
    try {
      await cache.start();
      const noKid = await new SignJWT(f.claims({ iss: single.issuer })).setProtectedHeader({ alg: 'RS256' }).sign(single.key('only').privateKey);
      assert.equal(reasonOf(await f.build(config).authenticate(bearer(noKid))), 'ok');
      await single.addKey('second');
      await cache.refresh();
      const result = await f.build(config).authenticate(bearer(noKid));
      assert.equal(reasonOf(result), 'token_unknown_kid');
      assert.match(result.kind === 'fail' ? result.description : '', /no key id/);
    } finally {
      cache.close();
      f.caches.delete(single.issuer);
      await single.stop();
    }
  });
});
