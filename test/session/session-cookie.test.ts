/**
 * The session cookie codec: signature, expiry, compression and chunking under
 * the 4 KB per-cookie budget, stale chunk clean-up.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { createSessionCookies, SessionTooLargeError, type SessionRecord } from '../../src/authn/session-cookie.js';
import { deriveSessionKeys } from '../../src/authn/session-keys.js';
import type { CookieScope } from '../../src/authn/session-set-cookie.js';
import { openStoredSession, sealStoredSession } from '../../src/stores/stored-session.js';

const keys = deriveSessionKeys({ session: new TextEncoder().encode('s'.repeat(40)), refresh: new TextEncoder().encode('r'.repeat(40)), ephemeral: false });
const scope: CookieScope = { path: '/', domain: 'kestra.example.com', secure: true, sameSite: 'lax' };
const NOW = 1_800_000_000;

function record(groups: string[]): SessionRecord {
  return { sid: 'sid-1', provider: 'keycloak', subject: 'user-1', name: 'alice', email: 'alice@example.com', issuer: 'https://idp', groups, expiresAt: NOW + 3600, refreshAt: NOW + 300 };
}

/** The cookie jar a browser would hold after these Set-Cookie lines. */
function jar(lines: readonly (readonly [string, string])[], start = new Map<string, string>()): Map<string, string> {
  const cookies = new Map(start);
  for (const [, line] of lines) {
    const pair = line.slice(0, line.indexOf(';'));
    const name = pair.slice(0, pair.indexOf('='));
    if (/Max-Age=0/.test(line)) cookies.delete(name);
    else cookies.set(name, pair.slice(pair.indexOf('=') + 1));
  }
  return cookies;
}

describe('session cookie', () => {
  const sessions = createSessionCookies('JWT', keys.session);

  test('round trip, attributes', async () => {
    const lines = await sessions.write(record(['devs']), scope, 3600, new Map());
    assert.equal(lines.length, 1);
    assert.match(lines[0]![1], /^JWT=[\w-]+\.[\w-]+\.[\w-]+; Path=\/; Domain=kestra\.example\.com; Max-Age=3600; HttpOnly; Secure; SameSite=Lax$/);
    const read = await sessions.read(jar(lines), NOW);
    assert.equal(read.kind, 'ok');
    assert.deepEqual(read.kind === 'ok' && read.record, record(['devs']));
  });

  test('the claims taken from userinfo round-trip, in the cookie and in a stored (Redis) session', async () => {
    const fromUserinfo: SessionRecord = { ...record(['devs']), userinfoClaims: ['groups', 'email'] };
    const read = await sessions.read(jar(await sessions.write(fromUserinfo, scope, 3600, new Map())), NOW);
    assert.deepEqual(read.kind === 'ok' && read.record, fromUserinfo);
    const key = new Uint8Array(randomBytes(32));
    const opened = await openStoredSession(key, 'id-1', await sealStoredSession(key, 'id-1', { record: fromUserinfo }));
    assert.deepEqual(opened?.record, fromUserinfo);
    const plain = await openStoredSession(key, 'id-2', await sealStoredSession(key, 'id-2', { record: record(['devs']) }));
    assert.equal(plain !== undefined && 'userinfoClaims' in plain.record, false);
  });

  test('the IdP sid (front/back-channel logout) round-trips; absent stays absent', async () => {
    const withSid: SessionRecord = { ...record(['devs']), idpSid: 'op-session-42' };
    const read = await sessions.read(jar(await sessions.write(withSid, scope, 3600, new Map())), NOW);
    assert.deepEqual(read.kind === 'ok' && read.record, withSid);
    const without = await sessions.read(jar(await sessions.write(record(['devs']), scope, 3600, new Map())), NOW);
    assert.equal(without.kind === 'ok' && 'idpSid' in without.record, false);
  });

  test('500 long group names: every Set-Cookie line < 4096 bytes, read back intact', async () => {
    const groups = Array.from({ length: 500 }, (_, i) => `kestra-tenant-main-namespace-company.team.${i}-developers-with-write-access`);
    const lines = await sessions.write(record(groups), scope, 3600, new Map());
    for (const [, line] of lines) assert.ok(Buffer.byteLength(line) < 4096, `${Buffer.byteLength(line)} bytes`);
    const read = await sessions.read(jar(lines), NOW);
    assert.equal(read.kind, 'ok');
    assert.deepEqual(read.kind === 'ok' && read.record.groups, groups);
  });

  test('500 random (incompressible) groups: chunked, each < 4096, stale chunks expired later', async () => {
    const groups = Array.from({ length: 500 }, () => randomBytes(18).toString('hex'));
    const lines = await sessions.write(record(groups), scope, 3600, new Map());
    assert.ok(lines.length > 1, 'chunked');
    assert.match(lines[0]![1], /^JWT=\d;/);
    for (const [, line] of lines) assert.ok(Buffer.byteLength(line) < 4096);
    const cookies = jar(lines);
    const read = await sessions.read(cookies, NOW);
    assert.deepEqual(read.kind === 'ok' && read.record.groups, groups);

    // A later, small session replaces the chunked one: old chunks are expired, not left behind.
    const small = await sessions.write(record(['devs']), scope, 3600, cookies);
    const after = jar(small, cookies);
    assert.deepEqual([...after.keys()], ['JWT']);
    assert.equal((await sessions.read(after, NOW)).kind, 'ok');

    // A missing chunk makes the session invalid, not partial.
    const broken = new Map(cookies);
    broken.delete('JWT_2');
    assert.equal((await sessions.read(broken, NOW)).kind, 'invalid');
  });

  test('too many groups to fit even chunked → SessionTooLargeError', async () => {
    const groups = Array.from({ length: 1000 }, () => randomBytes(60).toString('base64'));
    await assert.rejects(sessions.write(record(groups), scope, 3600, new Map()), SessionTooLargeError);
  });

  test('tampered, foreign key, garbage → invalid; past expiry → expired (record still readable)', async () => {
    const [line] = await sessions.write(record(['devs']), scope, 3600, new Map());
    const token = line![1].slice(4, line![1].indexOf(';'));
    const [h, p, s] = token.split('.');
    const payload = JSON.parse(Buffer.from(p!, 'base64url').toString());
    payload.nm = 'admin';
    const tampered = `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`;
    assert.equal((await sessions.read(new Map([['JWT', tampered]]), NOW)).kind, 'invalid');
    const other = createSessionCookies('JWT', deriveSessionKeys({ session: new Uint8Array(40), refresh: new Uint8Array(40), ephemeral: false }).session);
    assert.equal((await other.read(new Map([['JWT', token]]), NOW)).kind, 'invalid');
    for (const junk of ['x', '9', 'a.b.c', '']) {
      assert.notEqual((await sessions.read(new Map([['JWT', junk]]), NOW)).kind, 'ok');
    }
    const expired = await sessions.read(new Map([['JWT', token]]), NOW + 3600);
    assert.equal(expired.kind, 'expired');
    assert.equal(expired.kind === 'expired' && expired.record.provider, 'keycloak');
    assert.equal((await sessions.read(new Map(), NOW)).kind, 'absent');
  });

  test('a cookie issued (iat) later than the reader\'s clock + 60 s is invalid; inside that skew it is read', async () => {
    const issuedAt = Math.floor(Date.now() / 1000);
    const lines = await sessions.write({ ...record(['devs']), expiresAt: issuedAt + 2 * 86_400 }, scope, 3600, new Map());
    assert.equal((await sessions.read(jar(lines), issuedAt - 86_400)).kind, 'invalid', 'a day ahead');
    assert.equal((await sessions.read(jar(lines), issuedAt - 120)).kind, 'invalid', 'two minutes ahead');
    assert.equal((await sessions.read(jar(lines), issuedAt - 30)).kind, 'ok', 'replica clocks 30 s apart');
  });

  test('keys are derived per purpose, never the raw secret', () => {
    const secret = new TextEncoder().encode('s'.repeat(40));
    assert.notDeepEqual(keys.session, secret.slice(0, 32));
    assert.notDeepEqual(keys.refresh, keys.loginState);
    assert.equal(keys.session.length, 32);
  });
});
