/**
 * Identity-token keys from files (src/identity/signing-keys.ts): PEM and JWK
 * sets, the first key signs and the rest are published, kid = the JWK's or
 * the RFC 7638 thumbprint; every unusable file refused with a message naming
 * the file and the key's position and no key material.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { calculateJwkThumbprint, compactVerify, importJWK } from 'jose';
import { CompactSign } from 'jose';
import { generateSigningKeys, parseSigningKeys, readSigningKeys, SigningKeyError } from '../../src/identity/signing-keys.js';

const ec = () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const rsa = (bits = 2048) => generateKeyPairSync('rsa', { modulusLength: bits });
const pem = (k: ReturnType<typeof ec>) => k.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
const publicPem = (k: ReturnType<typeof ec>) => k.publicKey.export({ format: 'pem', type: 'spki' }) as string;

function refused(text: string, algorithm: 'ES256' | 'RS256', pattern: RegExp): SigningKeyError {
  try {
    parseSigningKeys(text, 'keys.pem', algorithm);
  } catch (err) {
    assert.ok(err instanceof SigningKeyError, String(err));
    assert.match(err.message, pattern);
    assert.doesNotMatch(err.message, /BEGIN|"d"|MII/, 'no key material in the message');
    return err;
  }
  assert.fail('expected the keys to be refused');
}

async function signsAndVerifies(set: ReturnType<typeof parseSigningKeys>): Promise<void> {
  const jws = await new CompactSign(new TextEncoder().encode('x')).setProtectedHeader({ alg: set.active.alg }).sign(await set.active.cryptoKey());
  await compactVerify(jws, await importJWK(set.active.publicJwk, set.active.alg));
}

test('PEM: one EC private key signs ES256; kid is the RFC 7638 thumbprint', async () => {
  const set = parseSigningKeys(pem(ec()), 'keys.pem', 'ES256');
  assert.equal(set.active.alg, 'ES256');
  assert.equal(set.active.kid, await calculateJwkThumbprint(set.active.publicJwk));
  assert.deepEqual(Object.keys(set.active.publicJwk).sort(), ['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
  assert.equal(set.published.length, 0);
  await signsAndVerifies(set);
});

test('PEM: an RSA key for RS256 (PKCS#1 too), then published keys (private or public only)', async () => {
  const first = rsa();
  const pkcs1 = first.privateKey.export({ format: 'pem', type: 'pkcs1' }) as string;
  const old = ec();
  const set = parseSigningKeys(`${pkcs1}\n${pem(rsa())}\n${publicPem(old)}`, 'keys.pem', 'RS256');
  assert.equal(set.active.alg, 'RS256');
  assert.deepEqual(Object.keys(set.active.publicJwk).sort(), ['alg', 'e', 'kid', 'kty', 'n', 'use']);
  assert.deepEqual(set.published.map((k) => [k.alg, k.canSign]), [['RS256', true], ['ES256', false]]);
  await signsAndVerifies(set);
});

test('JWK set: kids kept, the first private key signs, public-only keys are published', async () => {
  const a = ec().privateKey.export({ format: 'jwk' });
  const b = ec().publicKey.export({ format: 'jwk' });
  const set = parseSigningKeys(JSON.stringify({ keys: [{ ...a, kid: 'k-2026', alg: 'ES256', use: 'sig' }, { ...b, kid: 'k-2025' }] }), 'keys.json', 'ES256');
  assert.equal(set.active.kid, 'k-2026');
  assert.deepEqual(set.published.map((k) => k.kid), ['k-2025']);
  assert.equal(set.active.publicJwk.d, undefined, 'the published JWK has no private member');
  await signsAndVerifies(set);
  // One bare JWK is a set of one.
  assert.equal(parseSigningKeys(JSON.stringify({ ...a, kid: 'solo' }), 'key.json', 'ES256').active.kid, 'solo');
});

test('generated keys: ES256 and RS256, in memory', async () => {
  for (const alg of ['ES256', 'RS256'] as const) {
    const set = generateSigningKeys(alg);
    assert.equal(set.generated, true);
    assert.equal(set.active.alg, alg);
    await signsAndVerifies(set);
  }
});

test('unusable key files are refused, naming the file and the key', () => {
  refused('', 'ES256', /no key found/);
  refused('not a key at all', 'ES256', /no key found/);
  refused(pem(ec()), 'RS256', /first key is a ES256 key but authz.identity-token.algorithm is RS256/);
  refused(pem(rsa()), 'ES256', /first key is a RS256 key/);
  refused(pem(rsa(1024)), 'RS256', /PEM block 1.*at least 2048 bits/);
  refused(generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).privateKey.export({ format: 'pem', type: 'pkcs8' }) as string, 'ES256', /P-256/);
  refused(generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }) as string, 'ES256', /EC P-256 .* or RSA/);
  refused(publicPem(ec()), 'ES256', /first key signs, so it must be a private key/);
  refused('-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n', 'ES256', /PEM block 1 \(PRIVATE KEY\): not a readable key/);
  refused('{"keys": [', 'ES256', /not valid JSON/);
  refused(JSON.stringify({ keys: [{ kty: 'oct', k: 'AAAA' }] }), 'ES256', /key 0: not a usable EC or RSA JWK|key 0: must be/);
  const jwk = ec().privateKey.export({ format: 'jwk' });
  refused(JSON.stringify({ keys: [{ ...jwk, alg: 'RS256' }] }), 'ES256', /key 0: "alg" is "RS256" but the key is a ES256 key/);
  refused(JSON.stringify({ keys: [{ ...jwk, use: 'enc' }] }), 'ES256', /"use" must be sig/);
  refused(JSON.stringify({ keys: [{ ...jwk, kid: 'same' }, { ...jwk, kid: 'same' }] }), 'ES256', /two keys have the kid "same"/);
  assert.throws(() => readSigningKeys('/nonexistent/keys.pem', 'ES256'), /\/nonexistent\/keys.pem: cannot be read \(ENOENT\)/);
});
