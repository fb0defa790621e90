/**
 * The verified-token cache as the BearerAuthenticator uses it: hits skip
 * verification (Prometheus counters move), entries end at exp, failures are
 * cached briefly unless they can heal, and a token is only trusted from the
 * source it was verified from.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TokenCache } from '../../src/authn/token-cache.js';
import { bearer, counter, reasonOf, request, startBearerFixture, type BearerFixture } from './bearer-fixture.js';

describe('BearerAuthenticator: token cache', () => {
  let f: BearerFixture;
  before(async () => { f = await startBearerFixture(); });
  after(() => f.close());

  test('a verified token is cached until exp; the hit skips verification', async () => {
    const auth = f.build(f.issuerConfigs);
    const token = await f.idp.sign(f.claims({ sub: 'cached', exp: f.clock.seconds() + 60 }), 'rsa-1');
    const hits = await counter('kestra_authz_token_cache_hits_total');
    const misses = await counter('kestra_authz_token_cache_misses_total');
    const first = await auth.authenticate(bearer(token));
    const second = await auth.authenticate(bearer(token));
    assert.equal(first.kind, 'ok');
    assert.equal(second.kind, 'ok');
    // The same identity object again, marked as handed out before (the allow memo keys on that).
    assert.equal(second.kind === 'ok' && first.kind === 'ok' && second.identity, first.kind === 'ok' && first.identity);
    assert.equal(first.kind === 'ok' && first.repeated, undefined);
    assert.equal(second.kind === 'ok' && second.repeated, true);
    assert.equal(auth.tokenCache.hits, 1);
    assert.equal(auth.tokenCache.misses, 1);
    assert.equal(await counter('kestra_authz_token_cache_hits_total'), hits + 1);
    assert.equal(await counter('kestra_authz_token_cache_misses_total'), misses + 1);
    // past exp (and the skew): the entry is a miss and verification says expired
    f.clock.advance(61_000 + 30_000);
    assert.equal(reasonOf(await auth.authenticate(bearer(token))), 'token_expired');
    assert.equal(auth.tokenCache.misses, 2);
  });

  test('failures are cached briefly (bad signature); healing ones are not (unknown kid)', async () => {
    const auth = f.build(f.issuerConfigs);
    const forged = await f.ci.sign(f.claims(), 'rsa-1'); // idp's kid, ci's key
    assert.equal(reasonOf(await auth.authenticate(bearer(forged))), 'token_bad_signature');
    assert.equal(reasonOf(await auth.authenticate(bearer(forged))), 'token_bad_signature');
    assert.equal(auth.tokenCache.hits, 1);
    f.clock.advance(61_000);
    assert.equal(reasonOf(await auth.authenticate(bearer(forged))), 'token_bad_signature');
    assert.equal(auth.tokenCache.hits, 1, 'the negative entry expired');

    const unknownKid = await f.ci.sign(f.claims(), 'ci-only');
    assert.equal(reasonOf(await auth.authenticate(bearer(unknownKid))), 'token_unknown_kid');
    assert.equal(reasonOf(await auth.authenticate(bearer(unknownKid))), 'token_unknown_kid');
    assert.equal(auth.tokenCache.hits, 1, 'an unknown kid is never answered from the cache');
  });

  test('a cached token is only trusted from the source it was verified from', async () => {
    const auth = f.build(f.issuerConfigs);
    const token = await f.idp.sign(f.claims({ sub: 'header-only' }), 'rsa-1');
    assert.equal(reasonOf(await auth.authenticate(bearer(token))), 'ok');
    // idp does not read the id_token cookie (ci does): the header verification must not carry over
    assert.equal(reasonOf(await auth.authenticate(request({ cookie: `id_token=${token}` }))), 'token_untrusted_issuer');
    assert.equal(auth.tokenCache.hits, 0);
  });

  test('tokenCacheSize 0 disables caching', async () => {
    const auth = f.build(f.issuerConfigs, 0);
    const token = await f.idp.sign(f.claims(), 'rsa-1');
    await auth.authenticate(bearer(token));
    await auth.authenticate(bearer(token));
    assert.equal(auth.tokenCache.hits, 0);
    assert.equal(auth.tokenCache.size, 0);
  });
});

describe('TokenCache', () => {
  const identity = Object.freeze({ via: 'bearer' as const, subject: 's', name: 'n', groups: [] });

  test('bounded: the least recently used entry goes first', () => {
    const cache = new TokenCache({ maxEntries: 2, now: () => 0 });
    for (const t of ['a', 'b', 'c']) cache.setVerified(TokenCache.keyOf(t, 0), identity, 100);
    assert.equal(cache.get(TokenCache.keyOf('a', 0)), undefined);
    assert.equal(cache.get(TokenCache.keyOf('c', 0))?.kind, 'ok');
  });

  test('keys are a hash of the token, per source', () => {
    const key = TokenCache.keyOf('secret.token.value', 1);
    assert.ok(!key.includes('secret'));
    assert.notEqual(key, TokenCache.keyOf('secret.token.value', 0));
    assert.match(key, /^1:[A-Za-z0-9_-]{43}$/);
  });

  test('an already expired token is not cached; healing failures are not cached', () => {
    const cache = new TokenCache({ maxEntries: 10, now: () => 5_000 });
    cache.setVerified('k', identity, 5);
    assert.equal(cache.size, 0);
    for (const reason of ['jwks_unavailable', 'token_unknown_kid', 'token_not_yet_valid', 'internal_error'] as const) {
      cache.setFailed('k', { kind: 'fail', reason, description: 'x', scheme: 'Bearer' });
    }
    assert.equal(cache.size, 0);
    cache.setFailed('k', { kind: 'fail', reason: 'token_bad_signature', description: 'x', scheme: 'Bearer' });
    assert.equal(cache.get('k')?.kind, 'fail');
  });

  test('bad options are refused', () => {
    assert.throws(() => new TokenCache({ maxEntries: -1 }), /maxEntries/);
    assert.throws(() => new TokenCache({ maxEntries: 1.5 }), /maxEntries/);
    assert.throws(() => new TokenCache({ maxEntries: 1, negativeTtlMs: -1 }), /negativeTtlMs/);
  });
});
