/**
 * BearerAuthenticator: what is accepted, from where, and every way a token
 * is refused — against real issuers (see bearer-fixture.ts).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EncryptJWT, SignJWT, exportJWK, exportSPKI, generateKeyPair, type JWTPayload } from 'jose';
import { MAX_TOKEN_LENGTH, createBearerAuthenticator } from '../../src/authn/bearer-jwt.js';
import type { Config } from '../../src/config/types.js';
import { b64, bearer, counter, reasonOf, request, signRaw, startBearerFixture, type BearerFixture } from './bearer-fixture.js';

describe('BearerAuthenticator: accepting and refusing tokens', () => {
  let f: BearerFixture;
  before(async () => { f = await startBearerFixture(); });
  after(() => f.close());

  test('a valid RS256 token (JWKS via discovery) gives the identity and groups', async () => {
    assert.equal(f.idp.requests.discovery, 1);
    const result = await f.auth.authenticate(bearer(await f.idp.sign(f.claims(), 'rsa-1')));
    assert.equal(result.kind, 'ok');
    assert.deepEqual(result.kind === 'ok' && result.identity, {
      via: 'bearer', subject: 'u-1', name: 'alice', email: 'alice@example.com',
      groups: ['kestra-devs', 'ops'], issuer: f.idp.issuer, expiresAt: f.clock.seconds() + 600,
    });
  });

  test('a valid ES256 token is accepted', async () => {
    const result = await f.auth.authenticate(bearer(await f.idp.sign(f.claims({ sub: 'u-es' }), 'ec-1')));
    assert.equal(result.kind === 'ok' && result.identity.subject, 'u-es');
  });

  test('the issuer chooses the groups claim path; the scheme prefix is case-insensitive', async () => {
    const token = await f.ci.sign(f.claims({ iss: f.ci.issuer, aud: ['other', 'kestra-api'], groups: 'ci', preferred_username: undefined }), 'ci-only');
    const result = await f.auth.authenticate(request({ authorization: `bEaReR ${token}` }));
    assert.equal(result.kind, 'ok');
    if (result.kind === 'ok') {
      assert.deepEqual(result.identity.groups, ['ci']);
      assert.equal(result.identity.name, 'alice@example.com');
    }
  });

  test('a token from a cookie source; an issuer only reads its own sources', async () => {
    const token = await f.ci.sign(f.claims({ iss: f.ci.issuer, aud: 'kestra-api', sub: 'cookie-user' }), 'ci-only');
    const result = await f.auth.authenticate(request({ cookie: `other=1; id_token=${token}` }));
    assert.equal(result.kind === 'ok' && result.identity.subject, 'cookie-user');
    const idpToken = await f.idp.sign(f.claims(), 'rsa-1');
    assert.equal(reasonOf(await f.auth.authenticate(request({ cookie: `id_token=${idpToken}` }))), 'token_untrusted_issuer');
  });

  test('no token in any source → skip (Basic and other schemes are left to others)', async () => {
    assert.equal(reasonOf(await f.auth.authenticate(request({}))), 'skip');
    assert.equal(reasonOf(await f.auth.authenticate(request({ authorization: 'Basic YTpi' }))), 'skip');
    assert.equal(reasonOf(await f.auth.authenticate(request({ cookie: 'id_token=' }))), 'skip');
    assert.equal(reasonOf(await f.auth.authenticate(request({ authorization: 'Bearer' }))), 'token_malformed');
    assert.equal(reasonOf(await f.auth.authenticate(request({ authorization: 'Bearer   ' }))), 'token_malformed');
  });

  test('algorithm attacks: none, HS256 with the public key as secret, an alg outside the list', async () => {
    const none = `${b64({ alg: 'none', typ: 'JWT' })}.${b64(f.claims())}.`;
    assert.equal(reasonOf(await f.auth.authenticate(bearer(none))), 'token_alg_not_allowed');
    const rsa = f.idp.key('rsa-1');
    for (const secret of [Buffer.from(await exportSPKI(rsa.publicKey)), Buffer.from(JSON.stringify(rsa.publicJwk))]) {
      const hs = await new SignJWT(f.claims()).setProtectedHeader({ alg: 'HS256', kid: 'rsa-1' }).sign(secret);
      assert.equal(reasonOf(await f.auth.authenticate(bearer(hs))), 'token_alg_not_allowed');
    }
    // ci allows RS256 only
    const es = await generateKeyPair('ES256');
    const esToken = await new SignJWT(f.claims({ iss: f.ci.issuer, aud: 'kestra-api' }))
      .setProtectedHeader({ alg: 'ES256', kid: 'ci-only' }).sign(es.privateKey);
    assert.equal(reasonOf(await f.auth.authenticate(bearer(esToken))), 'token_alg_not_allowed');
  });

  test('a key named by the token itself is never trusted; unknown crit is refused', async () => {
    const attacker = await generateKeyPair('RS256', { extractable: true });
    const jwk = await exportJWK(attacker.publicKey);
    const embedded = await new SignJWT(f.claims()).setProtectedHeader({ alg: 'RS256', kid: 'rsa-1', jwk }).sign(attacker.privateKey);
    assert.equal(reasonOf(await f.auth.authenticate(bearer(embedded))), 'token_invalid');
    const jku = await new SignJWT(f.claims()).setProtectedHeader({ alg: 'RS256', kid: 'rsa-1', jku: 'https://evil/jwks' }).sign(attacker.privateKey);
    assert.equal(reasonOf(await f.auth.authenticate(bearer(jku))), 'token_invalid');
    // jose refuses to sign an unknown crit, so this one is signed by hand with idp's real key
    const crit = await signRaw({ alg: 'RS256', kid: 'rsa-1', crit: ['x-ext'], 'x-ext': 1 }, f.claims(), f.idp.key('rsa-1').privateKey);
    assert.equal(reasonOf(await f.auth.authenticate(bearer(crit))), 'token_invalid');
  });

  test('time claims: expired, inside the skew, not yet valid', async () => {
    const now = f.clock.seconds();
    const check = async (c: JWTPayload) => reasonOf(await f.auth.authenticate(bearer(await f.idp.sign(f.claims(c), 'rsa-1'))));
    assert.equal(await check({ exp: now - 3600 }), 'token_expired');
    assert.equal(await check({ exp: now - 10, sub: 'skew' }), 'ok');
    assert.equal(await check({ nbf: now + 3600 }), 'token_not_yet_valid');
    assert.equal(await check({ nbf: now + 10, sub: 'skew-nbf' }), 'ok');
  });

  test('iat: a day ahead or just beyond the skew → token_not_yet_valid, not cached (it heals as time passes); inside the skew → ok', async () => {
    const now = f.clock.seconds();
    const check = async (c: JWTPayload) => reasonOf(await f.auth.authenticate(bearer(await f.idp.sign(f.claims(c), 'rsa-1'))));
    assert.equal(await check({ iat: now + 24 * 3600, exp: now + 24 * 3600 + 600 }), 'token_not_yet_valid');
    assert.equal(await check({ iat: now + 31, sub: 'iat-31' }), 'token_not_yet_valid');
    assert.equal(await check({ iat: now + 30, sub: 'iat-30' }), 'ok');
    assert.equal(await check({ iat: 'yesterday' as unknown as number, sub: 'iat-text' }), 'token_invalid');
    const ahead = await f.idp.sign(f.claims({ iat: now + 120, sub: 'iat-heals' }), 'rsa-1');
    assert.equal(reasonOf(await f.auth.authenticate(bearer(ahead))), 'token_not_yet_valid');
    f.clock.advance(120_000);
    assert.equal(reasonOf(await f.auth.authenticate(bearer(ahead))), 'ok');
  });

  test('token types: logout tokens refused, ID tokens refused (issuer default), per-issuer token-types', async () => {
    const check = async (c: JWTPayload, header?: Record<string, unknown>, auth = f.auth) =>
      reasonOf(await auth.authenticate(bearer(await f.idp.sign(f.claims(c), 'rsa-1', header))));
    const event = { events: { 'http://schemas.openid.net/event/backchannel-logout': {} }, jti: 'j' };
    assert.equal(await check({ sub: 'lt-1' }, { typ: 'logout+jwt' }), 'token_type_not_allowed');
    assert.equal(await check({ sub: 'lt-2', ...event }), 'token_type_not_allowed');
    assert.equal(await check({ sub: 'id-1', nonce: 'n' }), 'token_type_not_allowed');
    const [first, ...rest] = f.issuerConfigs;
    const typed = f.build([{ ...first!, tokenTypes: ['at+jwt'], acceptIdTokens: true }, ...rest]);
    assert.equal(await check({ sub: 't-1' }, undefined, typed), 'token_type_not_allowed');
    assert.equal(await check({ sub: 't-2', nonce: 'n' }, { typ: 'at+jwt' }, typed), 'ok');
    assert.equal(await check({ sub: 't-3', ...event }, { typ: 'at+jwt' }, typed), 'token_type_not_allowed');
  });

  test('claims: wrong iss, wrong aud, missing aud, no exp, no sub', async () => {
    const check = async (c: JWTPayload) => f.auth.authenticate(bearer(await f.idp.sign(f.claims(c), 'rsa-1')));
    assert.equal(reasonOf(await check({ iss: 'https://evil.example.com' })), 'token_untrusted_issuer');
    assert.equal(reasonOf(await check({ iss: undefined })), 'token_untrusted_issuer');
    assert.equal(reasonOf(await check({ aud: 'someone-else' })), 'token_bad_audience');
    assert.equal(reasonOf(await check({ aud: undefined })), 'token_bad_audience');
    const noExp = await check({ exp: undefined });
    assert.equal(reasonOf(noExp), 'token_invalid');
    assert.match(noExp.kind === 'fail' ? noExp.description : '', /exp/);
    assert.equal(reasonOf(await check({ sub: undefined })), 'token_invalid');
    assert.equal(reasonOf(await check({ sub: 42 as unknown as string })), 'token_invalid');
  });

  test('malformed input: bad base64, wrong segment counts, JWE, undecodable JSON', async () => {
    const good = await f.idp.sign(f.claims(), 'rsa-1');
    const jwe = await new EncryptJWT(f.claims()).setProtectedHeader({ alg: 'dir', enc: 'A256GCM' }).encrypt(new Uint8Array(32));
    const cases: [string, string][] = [
      ['ab$c.def.ghi', 'token_malformed'],
      ['a.b.c.d', 'token_malformed'],
      ['a.b', 'token_malformed'],
      ['...', 'token_malformed'],
      [jwe, 'token_malformed'],
      [`${b64('not json')}.${b64(f.claims())}.c2ln`, 'token_malformed'],
      [`${b64({ alg: 'RS256' })}.${b64('[1,2]')}.c2ln`, 'token_malformed'],
      [`${b64({ alg: 'RS256', kid: 5 })}.${b64(f.claims())}.c2ln`, 'token_malformed'],
      [`${good.slice(0, -3)}AAA`, 'token_bad_signature'],
    ];
    for (const [token, reason] of cases) {
      const result = await f.auth.authenticate(bearer(token));
      assert.equal(reasonOf(result), reason, token.slice(0, 40));
      assert.ok(result.kind !== 'fail' || result.scheme === 'Bearer');
      assert.ok(result.kind !== 'fail' || !result.description.includes(token), 'the description never carries the token');
    }
    const jweResult = await f.auth.authenticate(bearer(jwe));
    assert.match(jweResult.kind === 'fail' ? jweResult.description : '', /JWE/);
  });

  test('oversized tokens (1 MB, just over the bound) are refused before hashing or parsing', async () => {
    const good = await f.idp.sign(f.claims(), 'rsa-1');
    const misses = await counter('kestra_authz_token_cache_misses_total');
    for (const huge of ['a'.repeat(1024 * 1024), `${good}${'A'.repeat(MAX_TOKEN_LENGTH - good.length + 1)}`]) {
      assert.equal(reasonOf(await f.auth.authenticate(bearer(huge))), 'token_malformed');
    }
    assert.equal(await counter('kestra_authz_token_cache_misses_total'), misses);
  });

  test('bad options are refused at construction', () => {
    const base = { issuer: f.idp.issuer, audiences: ['kestra'], algorithms: ['RS256'], from: [] };
    assert.throws(() => f.build([{ ...base, algorithms: ['HS256'] }]), /HS256/);
    assert.throws(() => f.build([{ ...base, algorithms: ['none'] }]), /none/);
    assert.throws(() => f.build([{ ...base, audiences: [] }]), /audiences/);
    assert.throws(() => f.build([base, base]), /twice/);
    assert.throws(() => f.build([{ ...base, issuer: 'https://no-cache' }]), /JwksCache/);
  });

  test('createBearerAuthenticator reads one config snapshot; no issuers → no stage', async () => {
    // Only the keys the factory reads; the rest of Config is irrelevant here.
    const config = (issuers: Config['bearer']['issuers']) => ({
      bearer: { issuers, clockSkewSeconds: 0, jwksMaxAgeSeconds: 600, jwksCooldownSeconds: 30, jwksTimeoutMs: 2000 },
      userClaims: ['email'],
      oidc: { enabled: false, providers: [], groupsClaimPath: 'resource_access.kestra.roles' },
      tokenCacheSize: 10,
    }) as unknown as Config;
    assert.equal(createBearerAuthenticator(config([]), f.caches), undefined);
    const auth = createBearerAuthenticator(config([f.issuerConfigs[0]!]), f.caches, f.clock.now);
    const result = await auth!.authenticate(bearer(await f.idp.sign(f.claims(), 'rsa-1')));
    assert.equal(result.kind === 'ok' && result.identity.name, 'alice@example.com');
    assert.equal(result.kind === 'ok' && result.identity.groups.length, 2);
  });
});
