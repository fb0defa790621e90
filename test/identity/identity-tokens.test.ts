/**
 * The signed identity token (src/identity/identity-tokens.ts, key-ring.ts)
 * on a test clock: its claims, verified with jose against the ring's own
 * JWKS; reuse until a quarter of the lifetime is left (counted as cached);
 * one signature for concurrent requests; rotation keeping the old key
 * published until its tokens expired; verifiers with skewed clocks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import type { Identity } from '../../src/core/identity.js';
import { hostAudience, IdentityTokens } from '../../src/identity/identity-tokens.js';
import { IdentityKeyRing, RETIRE_MARGIN_MS } from '../../src/identity/key-ring.js';
import { generateSigningKeys } from '../../src/identity/signing-keys.js';
import { metricValue } from '../helpers/metric-value.js';

const ISSUER = 'https://kestra.example.com';
const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);

function clock(start = T0) {
  const c = { now: start, tick: (ms: number) => { c.now += ms; }, fn: () => c.now };
  return c;
}

const alice: Identity = Object.freeze({
  via: 'bearer', subject: 'u-alice', name: 'alice', email: 'alice@example.com', groups: ['kestra-devs', 'ops'], issuer: 'https://idp.example.com',
});

function setup(ttlSeconds = 60, options: { audience?: string; alg?: 'ES256' | 'RS256' } = {}) {
  const c = clock();
  const ring = new IdentityKeyRing(c.fn);
  ring.install(generateSigningKeys(options.alg ?? 'ES256'), ttlSeconds * 1000);
  const tokens = new IdentityTokens(ring, { issuer: ISSUER, ttlSeconds, cacheSize: 100, now: c.fn, ...(options.audience ? { audience: options.audience } : {}) });
  const jwks = () => createLocalJWKSet(JSON.parse(ring.jwks().body) as JSONWebKeySet);
  return { c, ring, tokens, jwks };
}

async function issued(t: IdentityTokens, identity: Identity, audience: string, rule = 'r1', tenant: string | undefined = 'main') {
  return await t.tokenFor(identity, audience, rule, tenant);
}

const minted = () => metricValue('kestra_authz_identity_tokens_total', { source: 'minted' });
const cached = () => metricValue('kestra_authz_identity_tokens_total', { source: 'cached' });

test('claims: iss, aud, sub, name, email, groups, tenant, rule, auth_method, iat/exp (ttl), jti; header alg, kid, typ', async () => {
  const { c, ring, tokens, jwks } = setup();
  const token = await issued(tokens, alice, 'kestra.example.com', 'flows-read', 'main');
  const { payload, protectedHeader } = await jwtVerify(token.value, jwks(), { issuer: ISSUER, audience: 'kestra.example.com', currentDate: new Date(c.now) });
  assert.deepEqual(protectedHeader, { alg: 'ES256', kid: ring.active!.kid, typ: 'JWT' });
  assert.equal(payload.sub, 'u-alice');
  assert.equal(payload.name, 'alice');
  assert.equal(payload.email, 'alice@example.com');
  assert.deepEqual(payload.groups, ['kestra-devs', 'ops']);
  assert.equal(payload.tenant, 'main');
  assert.equal(payload.rule, 'flows-read');
  assert.equal(payload.auth_method, 'bearer');
  assert.equal(payload.iat, T0 / 1000);
  assert.equal(payload.exp, T0 / 1000 + 60);
  assert.match(String(payload.jti), /^[0-9a-f-]{36}$/);
  assert.equal(token.expiresAt, payload.exp);
  // No e-mail / tenant: the claims are absent, not empty.
  const svc: Identity = { via: 'mtls', subject: 'spiffe://cluster.local/ns/ci/sa/runner', name: 'spiffe://cluster.local/ns/ci/sa/runner', groups: [] };
  const other = await jwtVerify((await tokens.tokenFor(svc, 'kestra', 'r2', undefined)).value, jwks(), { currentDate: new Date(c.now) });
  assert.equal(other.payload.email, undefined);
  assert.equal(other.payload.tenant, undefined);
  assert.deepEqual(other.payload.groups, []);
  assert.equal(other.payload.auth_method, 'mtls');
});

test('the token never outlives the credential it stands for', async () => {
  const { c, tokens } = setup();
  const soon: Identity = { ...alice, expiresAt: T0 / 1000 + 20 };
  const token = await issued(tokens, soon, 'a');
  assert.equal(token.expiresAt, T0 / 1000 + 20);
  assert.ok(token.renewAt < c.now + 20_000);
});

test('audience: the rule\'s, else the configured one, else the request host without its port', () => {
  const { tokens } = setup();
  assert.equal(tokens.audienceFor('kestra-api', 'Kestra.Example.com:8443'), 'kestra-api');
  assert.equal(tokens.audienceFor(undefined, 'Kestra.Example.com:8443'), 'kestra.example.com');
  assert.equal(setup(60, { audience: 'kestra' }).tokens.audienceFor(undefined, 'x.example.com'), 'kestra');
  assert.equal(hostAudience('[::1]:8080'), '[::1]');
  assert.equal(hostAudience('kestra'), 'kestra');
});

test('cache: the same token until a quarter of its lifetime is left, then a new one; per identity × audience × rule × tenant', async () => {
  const { c, tokens } = setup(60);
  const [m0, h0] = [await minted(), await cached()];
  const first = await issued(tokens, alice, 'a');
  const again = tokens.tokenFor(alice, 'a', 'r1', 'main');
  assert.ok(!(again instanceof Promise), 'a cached token is answered synchronously');
  assert.equal(again.value, first.value);
  // Same identity content in another object (a Basic user re-verified): the same cache entry.
  assert.equal((await issued(tokens, { ...alice }, 'a')).value, first.value);
  c.tick(44_000);
  assert.equal((await issued(tokens, alice, 'a')).value, first.value, 'reused at 44 s of 60');
  assert.equal(await minted(), m0 + 1);
  assert.equal(await cached(), h0 + 3);
  // Another audience, rule or tenant, or another identity: another token.
  for (const [aud, rule, tenant] of [['b', 'r1', 'main'], ['a', 'r2', 'main'], ['a', 'r1', 'other']] as const) {
    assert.notEqual((await issued(tokens, alice, aud, rule, tenant)).value, first.value, `${aud} ${rule} ${tenant}`);
  }
  assert.notEqual((await issued(tokens, { ...alice, groups: ['ops'] }, 'a')).value, first.value, 'other groups');
  c.tick(1_000);
  const renewed = await issued(tokens, alice, 'a');
  assert.notEqual(renewed.value, first.value, 'renewed at 45 s of 60');
  assert.equal(renewed.expiresAt, T0 / 1000 + 45 + 60);
});

test('concurrent requests for a missing token share one signature', async () => {
  const { tokens } = setup();
  const m0 = await minted();
  const all = await Promise.all(Array.from({ length: 20 }, () => tokens.tokenFor(alice, 'a', 'r1', 'main')));
  assert.equal(new Set(all.map((t) => t.value)).size, 1);
  assert.equal(await minted(), m0 + 1);
});

test('clock skew: every token handed out is still valid for a verifier whose clock runs up to ttl/4 ahead', async () => {
  const { c, tokens, jwks } = setup(60);
  for (let step = 0; step < 12; step++) {
    const token = await issued(tokens, alice, 'a');
    // Verifier 14 s ahead (less than a quarter of 60 s), no tolerance of its own.
    await jwtVerify(token.value, jwks(), { audience: 'a', currentDate: new Date(c.now + 14_000) });
    // Verifier 30 s behind: iat in its future is no reason to refuse (no nbf is set).
    await jwtVerify(token.value, jwks(), { audience: 'a', currentDate: new Date(c.now - 30_000) });
    c.tick(7_000);
  }
  // What a verifier with a clock too far ahead sees: expired, refused (no silent acceptance).
  const token = await issued(tokens, alice, 'a');
  await assert.rejects(jwtVerify(token.value, jwks(), { audience: 'a', currentDate: new Date(c.now + 61_000) }), { code: 'ERR_JWT_EXPIRED' });
});

test('rotation: a new key signs at once; the old one stays in the JWKS until its last token expired, then leaves', async () => {
  const { c, ring, tokens, jwks } = setup(60);
  const oldToken = await issued(tokens, alice, 'a');
  const oldKid = ring.active!.kid;
  c.tick(10_000);
  ring.install(generateSigningKeys('ES256'), 60_000);
  const newKid = ring.active!.kid;
  assert.notEqual(newKid, oldKid);
  assert.equal(tokens.fresh(oldToken), false, 'a cached token of the old key is not handed out again');
  const newToken = await issued(tokens, alice, 'a');
  assert.equal(decodeProtectedHeader(newToken.value).kid, newKid);
  assert.deepEqual(ring.jwks().kids, [newKid, oldKid]);
  // The old token verifies against the served JWKS for as long as it is valid.
  await jwtVerify(oldToken.value, jwks(), { audience: 'a', currentDate: new Date(c.now + 49_000) });
  c.tick(60_000 + RETIRE_MARGIN_MS - 1);
  assert.deepEqual(ring.jwks().kids, [newKid, oldKid], 'still published within the margin');
  c.tick(1);
  assert.deepEqual(ring.jwks().kids, [newKid], 'gone once every token it signed expired');
  await assert.rejects(jwtVerify(oldToken.value, jwks(), { audience: 'a', currentDate: new Date(c.now - 60_000) }), { code: 'ERR_JWKS_NO_MATCHING_KEY' });
  // The new key's token is unaffected.
  await jwtVerify(newToken.value, jwks(), { audience: 'a', currentDate: new Date(c.now - 70_000) });
});

test('installing the same key set again retires nothing; a key moved from active to published is not retired', () => {
  const ring = new IdentityKeyRing(clock().fn);
  const a = generateSigningKeys('ES256');
  ring.install(a, 60_000);
  const b = generateSigningKeys('ES256');
  ring.install({ active: b.active, published: [a.active], generated: false }, 60_000);
  assert.deepEqual(ring.jwks().kids, [b.active.kid, a.active.kid]);
  ring.install({ active: b.active, published: [a.active], generated: false }, 60_000);
  assert.deepEqual(ring.jwks().kids, [b.active.kid, a.active.kid], 'no duplicate entry');
});

test('RS256', async () => {
  const { c, tokens, jwks } = setup(60, { alg: 'RS256' });
  const token = await issued(tokens, alice, 'a');
  const { protectedHeader } = await jwtVerify(token.value, jwks(), { audience: 'a', currentDate: new Date(c.now) });
  assert.equal(protectedHeader.alg, 'RS256');
});

test('no signing key: minting fails (the door turns that into a 500, never an allow without the token)', async () => {
  const tokens = new IdentityTokens(new IdentityKeyRing(), { issuer: ISSUER, ttlSeconds: 60, cacheSize: 10 });
  await assert.rejects(async () => tokens.tokenFor(alice, 'a', 'r1', 'main'), { code: 'ERR_IDENTITY_KEY' });
  // A public-only key cannot sign either.
  const ring = new IdentityKeyRing();
  const set = generateSigningKeys('ES256');
  const publicOnly = { ...set.active, canSign: false, cryptoKey: () => Promise.reject(new Error('public only')) };
  ring.install({ active: publicOnly, published: [], generated: false }, 60_000);
  await assert.rejects(async () => new IdentityTokens(ring, { issuer: ISSUER, ttlSeconds: 60, cacheSize: 10 }).tokenFor(alice, 'a', 'r1', 'main'));
});

test('anonymous (a public route without credentials): sub and name anonymous, no groups, auth_method none; cached like any other', async () => {
  const { c, tokens, jwks } = setup();
  const token = await tokens.tokenFor(undefined, 'kestra.example.com', 'public-ui', undefined);
  const { payload } = await jwtVerify(token.value, jwks(), { issuer: ISSUER, audience: 'kestra.example.com', currentDate: new Date(c.now) });
  assert.equal(payload.sub, 'anonymous');
  assert.equal(payload.name, 'anonymous');
  assert.deepEqual(payload.groups, []);
  assert.equal(payload.auth_method, 'none');
  assert.equal(payload.rule, 'public-ui');
  const again = tokens.tokenFor(undefined, 'kestra.example.com', 'public-ui', undefined);
  assert.ok(!(again instanceof Promise));
  assert.equal(again.value, token.value);
  // A user who happens to be called "anonymous" is another cache entry, with its own claims.
  const named = await tokens.tokenFor({ via: 'basic', subject: 'anonymous', name: 'anonymous', groups: [] }, 'kestra.example.com', 'public-ui', undefined);
  assert.notEqual(named.value, token.value);
});
