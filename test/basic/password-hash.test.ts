/**
 * scrypt password hashes: round trip, wrong passwords, and stored encodings
 * that are malformed or hostile (never a throw, always "no match").
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import {
  DUMMY_HASH, MAX_PASSWORD_BYTES, PasswordLengthError, SCRYPT_PARAMS, hashPassword, isWellFormedHash, verifyPassword,
} from '../../src/authn/password-hash.js';

describe('password hashes', () => {
  test('hash then verify: the right password matches, the encoding carries its parameters', async () => {
    const encoded = await hashPassword('correct-horse-battery');
    assert.match(encoded, /^scrypt\$32768\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    assert.equal(await verifyPassword('correct-horse-battery', encoded), true);
    assert.ok(!encoded.includes('correct-horse-battery'));
  });

  test('a wrong password, a prefix, a case change and an empty password do not match', async () => {
    const encoded = await hashPassword('Secret-pass-1');
    for (const guess of ['Secret-pass-2', 'Secret-pass-', 'secret-pass-1', 'Secret-pass-1 ', '']) {
      assert.equal(await verifyPassword(guess, encoded), false, JSON.stringify(guess));
    }
  });

  test('the same password hashes differently each time (random salt); unicode passwords work', async () => {
    const a = await hashPassword('pässwörd-✓');
    const b = await hashPassword('pässwörd-✓');
    assert.notEqual(a, b);
    assert.equal(await verifyPassword('pässwörd-✓', a), true);
    assert.equal(await verifyPassword('pässwörd-✓', b), true);
  });

  test('malformed or hostile stored encodings give false, never a throw', async () => {
    const good = await hashPassword('password-1');
    const [, N, r, p, salt, hash] = good.split('$') as [string, string, string, string, string, string];
    const bad = [
      '', 'plain-text-password', 'scrypt', `scrypt$${N}$${r}$${p}$${salt}`, `${good}$extra`,
      `bcrypt$${N}$${r}$${p}$${salt}$${hash}`,
      `scrypt$1000$${r}$${p}$${salt}$${hash}`, // N not a power of two
      `scrypt$${2 ** 24}$${r}$${p}$${salt}$${hash}`, // far too costly: refused before any work
      `scrypt$${N}$999$${p}$${salt}$${hash}`,
      `scrypt$${N}$${r}$0$${salt}$${hash}`,
      `scrypt$0x8000$${r}$${p}$${salt}$${hash}`,
      `scrypt$${N}$${r}$${p}$${salt}$not+base64url/`,
      `scrypt$${N}$${r}$${p}$${salt}$${hash.slice(0, 10)}`, // key too short
      `scrypt$${N}$${r}$${p}$AAAA$${hash}`, // salt too short
      'x'.repeat(10_000),
    ];
    for (const encoded of bad) {
      assert.equal(isWellFormedHash(encoded), false, encoded.slice(0, 60));
      assert.equal(await verifyPassword('password-1', encoded), false, encoded.slice(0, 60));
    }
    assert.equal(await verifyPassword('password-1', undefined as unknown as string), false);
    assert.equal(await verifyPassword(42 as unknown as string, good), false);
  });

  test('a key that differs only in its last byte does not match (full-length compare)', async () => {
    const good = await hashPassword('password-1');
    const parts = good.split('$');
    const key = Buffer.from(parts[5]!, 'base64url');
    key.writeUInt8(key.readUInt8(key.length - 1) ^ 1, key.length - 1);
    parts[5] = key.toString('base64url');
    assert.equal(await verifyPassword('password-1', parts.join('$')), false);
  });

  test('the comparison is constant-time: verifyPassword uses crypto.timingSafeEqual, never === or equals()', async () => {
    // Timing cannot be asserted in a test; the source is checked instead.
    const source = await readFile(new URL('../../../src/authn/password-hash.ts', import.meta.url), 'utf8');
    assert.match(source, /return timingSafeEqual\(candidate, stored\.hash\)/);
    assert.doesNotMatch(source, /\.equals\(|\.compare\(/);
  });

  test('stored parameters are honoured: a hash made with other (valid) parameters still verifies', async () => {
    const { scrypt } = await import('node:crypto');
    const salt = Buffer.alloc(16, 7);
    const key = await new Promise<Buffer>((resolve, reject) =>
      scrypt('legacy-pass', salt, 24, { N: 2 ** 12, r: 8, p: 2 }, (err, k) => (err ? reject(err) : resolve(k))));
    const encoded = `scrypt$4096$8$2$${salt.toString('base64url')}$${key.toString('base64url')}`;
    assert.equal(await verifyPassword('legacy-pass', encoded), true);
    assert.equal(await verifyPassword('legacy-pass!', encoded), false);
  });

  test('password length is bounded before hashing', async () => {
    const longest = 'a'.repeat(MAX_PASSWORD_BYTES);
    const encoded = await hashPassword(longest);
    assert.equal(await verifyPassword(longest, encoded), true);
    await assert.rejects(hashPassword('a'.repeat(MAX_PASSWORD_BYTES + 1)), (err: unknown) =>
      err instanceof PasswordLengthError && err.code === 'ERR_PASSWORD_LENGTH' && !err.message.includes('aaaa'));
    await assert.rejects(hashPassword(''), PasswordLengthError);
    // Multi-byte characters count in bytes: 512 × 'é' is 1024 bytes, one more is too many.
    assert.equal(await verifyPassword(`${'é'.repeat(512)}x`, encoded), false);
  });

  test('DUMMY_HASH is a well-formed hash with the current parameters that nothing matches', async () => {
    assert.equal(isWellFormedHash(DUMMY_HASH), true);
    assert.ok(DUMMY_HASH.startsWith(`scrypt$${SCRYPT_PARAMS.N}$${SCRYPT_PARAMS.r}$${SCRYPT_PARAMS.p}$`));
    assert.equal(await verifyPassword('', DUMMY_HASH), false);
    assert.equal(await verifyPassword('password', DUMMY_HASH), false);
  });
});
