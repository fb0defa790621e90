/**
 * BasicAuthenticator over a real users file: every answer it can give, the
 * lockout, the success cache, and a store that is down.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AuthnResult } from '../../src/authn/authenticator.js';
import { BasicAuthenticator, MAX_BASIC_HEADER_LENGTH, parseBasicHeader } from '../../src/authn/basic-auth.js';
import { LockoutTracker } from '../../src/authn/lockout.js';
import { hashPassword } from '../../src/authn/password-hash.js';
import { createAuthRequest, type AuthRequest } from '../../src/core/auth-request.js';
import { AuthzError } from '../../src/core/errors.js';
import { FileUsersStore } from '../../src/stores/users-file.js';
import type { UserRecord, UsersStore } from '../../src/stores/users-store.js';

const request = (headers: Record<string, string>): AuthRequest =>
  createAuthRequest({ method: 'GET', path: '/api/v1/main/flows', headers })!;
const basic = (user: string, password: string) =>
  request({ authorization: `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}` });
const reasonOf = (r: AuthnResult) => (r.kind === 'fail' ? r.reason : r.kind);

/** A store whose backend is unreachable: the legitimate double for "PostgreSQL is down". */
class UnreachableUsersStore implements UsersStore {
  private fail(): never { throw new AuthzError('ERR_USERS_STORE', 'connection refused'); }
  async get(): Promise<UserRecord | undefined> { this.fail(); }
  async list(): Promise<UserRecord[]> { this.fail(); }
  async create(): Promise<boolean> { this.fail(); }
  async delete(): Promise<void> { this.fail(); }
  async setPasswordHash(): Promise<void> { this.fail(); }
  async close(): Promise<void> {}
}

describe('BasicAuthenticator', () => {
  let dir: string;
  let store: FileUsersStore;
  let clock = 1_000_000;
  const now = () => clock;
  const lockout = () => new LockoutTracker({ threshold: 3, windowSeconds: 300, lockSeconds: 1800, now });
  const authenticator = (options: Partial<ConstructorParameters<typeof BasicAuthenticator>[0]> = {}) =>
    new BasicAuthenticator({ store, lockout: lockout(), enabled: true, now, ...options });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kestra-authz-basic-'));
    store = new FileUsersStore(join(dir, 'users.yaml'), { recheckIntervalMs: 0 });
    await store.create({ username: 'ops', passwordHash: await hashPassword('correct-horse-1'), admin: false, groups: ['kestra-devs'] });
    await store.create({ username: 'root', passwordHash: await hashPassword('root-pass-123'), admin: true, tenant: 'acme', groups: [] });
  });
  after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('the right password gives the identity from the user record', async () => {
    const auth = authenticator();
    assert.deepEqual(await auth.authenticate(basic('ops', 'correct-horse-1')), {
      kind: 'ok', identity: { via: 'basic', subject: 'ops', name: 'ops', groups: ['kestra-devs'], admin: false },
    });
    const root = await auth.authenticate(basic('root', 'root-pass-123'));
    assert.deepEqual(root.kind === 'ok' && root.identity, { via: 'basic', subject: 'root', name: 'root', groups: [], tenant: 'acme', admin: true });
  });

  test('scheme is case-insensitive; no header or another scheme → skip', async () => {
    const auth = authenticator();
    const token = Buffer.from('ops:correct-horse-1').toString('base64');
    assert.equal(reasonOf(await auth.authenticate(request({ authorization: `bAsIc ${token}` }))), 'ok');
    assert.equal(reasonOf(await auth.authenticate(request({}))), 'skip');
    assert.equal(reasonOf(await auth.authenticate(request({ authorization: `Bearer ${token}` }))), 'skip');
    assert.equal(reasonOf(await auth.authenticate(request({ authorization: 'Basicx' }))), 'skip');
  });

  test('a wrong password and an unknown user get the same answer', async () => {
    const auth = authenticator();
    const wrong = await auth.authenticate(basic('ops', 'wrong-password'));
    const unknown = await auth.authenticate(basic('nobody', 'wrong-password'));
    assert.deepEqual(wrong, unknown);
    assert.deepEqual(wrong, { kind: 'fail', reason: 'basic_bad_credentials', description: 'invalid username or password', scheme: 'Basic' });
  });

  test('malformed headers → basic_bad_credentials, never a throw', async () => {
    const auth = authenticator();
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    const malformed = [
      'Basic', 'Basic ', 'Basic !!!!', `Basic ${b64('no-colon')}`, `Basic ${b64(':password-only')}`,
      `Basic ${Buffer.from([0x6f, 0x70, 0x73, 0x3a, 0xff, 0xfe]).toString('base64')}`, // not UTF-8
      `Basic ${b64('ops:correct-horse-1')},Basic ${b64('a:b')}`, // a repeated header, joined by Envoy
      `Basic ${'A'.repeat(MAX_BASIC_HEADER_LENGTH)}`,
    ];
    for (const header of malformed) {
      const result = await auth.authenticate(request({ authorization: header }));
      assert.equal(reasonOf(result), 'basic_bad_credentials', header.slice(0, 40));
    }
  });

  test('parseBasicHeader: the password may contain ":" and be empty; unpadded base64 is accepted', () => {
    assert.deepEqual(parseBasicHeader(`Basic ${Buffer.from('ops:a:b:c').toString('base64')}`), { username: 'ops', password: 'a:b:c' });
    assert.deepEqual(parseBasicHeader(`Basic ${Buffer.from('ops:').toString('base64')}`), { username: 'ops', password: '' });
    assert.deepEqual(parseBasicHeader('Basic b3BzOng'), { username: 'ops', password: 'x' });
    assert.equal(parseBasicHeader(undefined), undefined);
  });

  test('Basic auth disabled: a Basic header fails basic_disabled, other requests skip', async () => {
    const auth = authenticator({ enabled: false });
    assert.equal(reasonOf(await auth.authenticate(basic('ops', 'correct-horse-1'))), 'basic_disabled');
    assert.equal(reasonOf(await auth.authenticate(request({}))), 'skip');
  });

  test('lockout: after the threshold even the right password is refused, until the lock ends', async () => {
    const auth = authenticator();
    for (let i = 0; i < 3; i++) assert.equal(reasonOf(await auth.authenticate(basic('ops', `guess-${i}`))), 'basic_bad_credentials');
    const locked = await auth.authenticate(basic('ops', 'correct-horse-1'));
    assert.equal(reasonOf(locked), 'basic_locked_out');
    assert.ok(locked.kind === 'fail' && /temporarily locked/.test(locked.description) && !/ops|exist/.test(locked.description));
    assert.equal(reasonOf(await auth.authenticate(basic('root', 'root-pass-123'))), 'ok', 'other users are not affected');
    clock += 1800 * 1000;
    assert.equal(reasonOf(await auth.authenticate(basic('ops', 'correct-horse-1'))), 'ok');
  });

  test('unknown user names lock out like real ones (no enumeration through lockout)', async () => {
    const auth = authenticator();
    for (let i = 0; i < 3; i++) await auth.authenticate(basic('nobody', `guess-${i}`));
    assert.equal(reasonOf(await auth.authenticate(basic('nobody', 'guess'))), 'basic_locked_out');
  });

  test('parallel guesses cannot outrun the threshold', async () => {
    const auth = authenticator();
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => auth.authenticate(basic('ops', `parallel-${i}`))));
    const reasons = results.map(reasonOf);
    assert.equal(reasons.filter((r) => r === 'basic_bad_credentials').length, 3);
    assert.equal(reasons.filter((r) => r === 'basic_locked_out').length, 7);
  });

  test('parallel correct requests all pass and are verified once', async () => {
    const auth = authenticator();
    const results = await Promise.all(Array.from({ length: 8 }, () => auth.authenticate(basic('ops', 'correct-horse-1'))));
    assert.deepEqual(results.map(reasonOf), Array(8).fill('ok'));
    assert.equal(auth.cachedVerifications, 1);
  });

  test('a success resets the failure count', async () => {
    const auth = authenticator();
    await auth.authenticate(basic('ops', 'bad-1'));
    await auth.authenticate(basic('ops', 'bad-2'));
    assert.equal(reasonOf(await auth.authenticate(basic('ops', 'correct-horse-1'))), 'ok');
    await auth.authenticate(basic('ops', 'bad-3'));
    await auth.authenticate(basic('ops', 'bad-4'));
    assert.equal(reasonOf(await auth.authenticate(basic('ops', 'correct-horse-1'))), 'ok');
  });

  test('the success cache: a changed password invalidates it at once; entries expire after the TTL', async () => {
    await store.create({ username: 'temp', passwordHash: await hashPassword('first-pass-1'), admin: false, groups: [] });
    const auth = authenticator();
    assert.equal(reasonOf(await auth.authenticate(basic('temp', 'first-pass-1'))), 'ok');
    assert.equal(auth.cachedVerifications, 1);
    await store.setPasswordHash('temp', await hashPassword('second-pass-2'));
    assert.equal(reasonOf(await auth.authenticate(basic('temp', 'first-pass-1'))), 'basic_bad_credentials');
    assert.equal(reasonOf(await auth.authenticate(basic('temp', 'second-pass-2'))), 'ok');
    await store.delete('temp');
    assert.equal(reasonOf(await auth.authenticate(basic('temp', 'second-pass-2'))), 'basic_bad_credentials');
    assert.equal(reasonOf(await auth.authenticate(basic('ops', 'correct-horse-1'))), 'ok');
    clock += 60_000;
    assert.equal(auth.cachedVerifications, 3, 'still fresh at exactly the TTL');
    clock += 1;
    assert.equal(auth.cachedVerifications, 0);
  });

  test('a failed verification is never cached as a success', async () => {
    const auth = authenticator();
    await auth.authenticate(basic('ops', 'wrong-once'));
    assert.equal(auth.cachedVerifications, 0);
  });

  test('store down → store_unavailable (503-class), never ok, and no failure is counted', async () => {
    const auth = new BasicAuthenticator({ store: new UnreachableUsersStore(), lockout: lockout(), enabled: true });
    for (let i = 0; i < 5; i++) {
      const result = await auth.authenticate(basic('ops', 'correct-horse-1'));
      assert.equal(reasonOf(result), 'store_unavailable');
      assert.ok(result.kind === 'fail' && !result.description.includes('correct-horse'));
    }
  });

  test('a users file path that is a directory → store_unavailable', async () => {
    const path = join(dir, 'not-a-file');
    await mkdir(path);
    const broken = new FileUsersStore(path);
    const auth = new BasicAuthenticator({ store: broken, lockout: lockout(), enabled: true });
    assert.equal(reasonOf(await auth.authenticate(basic('ops', 'correct-horse-1'))), 'store_unavailable');
    await broken.close();
  });
});
