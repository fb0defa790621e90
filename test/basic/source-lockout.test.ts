/**
 * Per-address brute-force limits (`authz.source-lockout`) next to the per-user
 * lock, over a real users file and the in-memory stores built exactly as the
 * service builds them (openLockoutStore), with a fake clock: address grouping
 * (IPv4, mapped IPv4, IPv6 /64), the block and its fixed end, the policy that
 * keeps one address from locking an account out for everybody, exemptions,
 * metrics by scope, config keys and their problems, and a lockout store that
 * is down.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AuthnResult } from '../../src/authn/authenticator.js';
import { BasicAuthenticator } from '../../src/authn/basic-auth.js';
import { LockoutTracker } from '../../src/authn/lockout.js';
import type { LockoutStore } from '../../src/authn/lockout-store.js';
import { hashPassword } from '../../src/authn/password-hash.js';
import { AddressSet, parseCidr, sourceGroupOf } from '../../src/authn/source-address.js';
import { SourceLockout, type SourceLockoutSettings } from '../../src/authn/source-lockout.js';
import { DEFAULTS } from '../../src/config/config-defaults.js';
import { createAuthRequest } from '../../src/core/auth-request.js';
import { AuthzError } from '../../src/core/errors.js';
import { registry } from '../../src/observability/metrics.js';
import { openLockoutStore } from '../../src/stores/open-lockout-store.js';
import { FileUsersStore } from '../../src/stores/users-file.js';
import { load, problemsOf, SECRET, yamlLines } from '../config/config-problems.js';
import { metricValue } from '../helpers/metric-value.js';

const basicFrom = (sourceAddress: string, user: string, password: string) => createAuthRequest({
  method: 'GET', path: '/api/v1/main/flows', sourceAddress,
  headers: { authorization: `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}` },
})!;
const reasonOf = (r: AuthnResult) => (r.kind === 'fail' ? r.reason : r.kind);
const USER = { threshold: 3, windowSeconds: 300, lockSeconds: 1800 };
const SOURCE: SourceLockoutSettings = { enabled: true, threshold: 5, windowSeconds: 300, lockSeconds: 900, exempt: ['127.0.0.0/8', '::1/128', '10.9.0.0/16'] };
const lockouts = (scope: 'user' | 'source') => metricValue('kestra_authz_lockouts_total', { scope });

describe('source address groups', () => {
  test('IPv4 is its own group; mapped IPv4 and ports are normalized; garbage has no group', () => {
    assert.equal(sourceGroupOf('203.0.113.7'), '4:203.0.113.7');
    assert.equal(sourceGroupOf('::ffff:203.0.113.7'), '4:203.0.113.7');
    assert.equal(sourceGroupOf('203.0.113.7:54321'), '4:203.0.113.7');
    assert.notEqual(sourceGroupOf('203.0.113.8'), sourceGroupOf('203.0.113.7'));
    for (const junk of ['', 'unknown', 'example.com', '300.1.1.1', '1.2.3', '_hidden']) assert.equal(sourceGroupOf(junk), undefined, junk);
  });

  test('IPv6 is grouped by /64, whatever the spelling', () => {
    const a = sourceGroupOf('2001:db8:1:2::1');
    assert.equal(a, '6:2001:db8:1:2::/64');
    assert.equal(sourceGroupOf('2001:0db8:0001:0002:ffff:ffff:ffff:ffff'), a);
    assert.equal(sourceGroupOf('[2001:db8:1:2:abcd::9]:443'), a);
    assert.notEqual(sourceGroupOf('2001:db8:1:3::1'), a);
    assert.equal(sourceGroupOf('::1'), '6:0:0:0:0::/64');
  });

  test('CIDR lists: IPv4 and IPv6 prefixes, single addresses, bad entries refused', () => {
    const set = new AddressSet(['10.0.0.0/8', '2001:db8::/32', '192.0.2.1']);
    assert.ok(set.has('10.200.3.4'));
    assert.ok(set.has('::ffff:10.1.1.1'));
    assert.ok(set.has('2001:db8:ffff::1'));
    assert.ok(set.has('192.0.2.1'));
    assert.ok(!set.has('192.0.2.2'));
    assert.ok(!set.has('2001:db9::1'));
    assert.ok(!set.has(''));
    for (const bad of ['10.0.0.0/33', '2001:db8::/129', 'ten/8', '10.0.0.0/8/1', '', '10.0.0.0/-1']) assert.equal(parseCidr(bad), undefined, bad);
    assert.throws(() => new AddressSet(['nope']), /entry 0/);
  });
});

describe('Basic auth with per-address limits', () => {
  let dir: string;
  let store: FileUsersStore;
  let clock = 2_000_000_000_000;
  const now = () => clock;
  const authenticator = (user = USER, source: SourceLockoutSettings = SOURCE) =>
    new BasicAuthenticator({ store, lockout: openLockoutStore(user, store, source, now), enabled: true, now });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kestra-authz-source-lockout-'));
    store = new FileUsersStore(join(dir, 'users.yaml'), { recheckIntervalMs: 0 });
    await store.create({ username: 'ops', passwordHash: await hashPassword('correct-horse-1'), admin: false, groups: [] });
    await store.create({ username: 'dev', passwordHash: await hashPassword('dev-pass-123'), admin: false, groups: [] });
  });
  after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('one address locks a user for itself only; the same user still logs in from elsewhere', async () => {
    const auth = authenticator();
    const userLocksBefore = await lockouts('user');
    for (let i = 0; i < 3; i++) assert.equal(reasonOf(await auth.authenticate(basicFrom('198.51.100.1', 'ops', 'guess'))), 'basic_bad_credentials');
    assert.equal(reasonOf(await auth.authenticate(basicFrom('198.51.100.1', 'ops', 'correct-horse-1'))), 'basic_locked_out',
      'the address that guessed sees the Kestra lock, even with the right password');
    assert.equal(await lockouts('user'), userLocksBefore + 1);
    assert.equal(reasonOf(await auth.authenticate(basicFrom('198.51.100.2', 'ops', 'correct-horse-1'))), 'ok',
      'one address alone cannot lock the account out for others');
    clock += USER.lockSeconds * 1000;
    assert.equal(reasonOf(await auth.authenticate(basicFrom('198.51.100.1', 'ops', 'correct-horse-1'))), 'ok', 'the lock ends on time');
  });

  test('failures from two addresses lock the user for everyone, for exactly lock-duration', async () => {
    const auth = authenticator();
    // Address A uses its whole share (threshold − 1 = 2), B adds the last one.
    for (const from of ['198.51.100.10', '198.51.100.10', '198.51.100.11']) {
      assert.equal(reasonOf(await auth.authenticate(basicFrom(from, 'ops', 'guess'))), 'basic_bad_credentials');
    }
    assert.equal(reasonOf(await auth.authenticate(basicFrom('198.51.100.12', 'ops', 'correct-horse-1'))), 'basic_locked_out');
    assert.equal(reasonOf(await auth.authenticate(basicFrom('', 'ops', 'correct-horse-1'))), 'basic_locked_out');
    // Attempts during the lock are refused without counting and do not extend it.
    clock += (USER.lockSeconds - 1) * 1000;
    assert.equal(reasonOf(await auth.authenticate(basicFrom('198.51.100.11', 'ops', 'guess'))), 'basic_locked_out');
    clock += 1000;
    assert.equal(reasonOf(await auth.authenticate(basicFrom('198.51.100.12', 'ops', 'correct-horse-1'))), 'ok');
  });

  test('an address past its own threshold is blocked for every user, without a password check, for a fixed time', async () => {
    const auth = authenticator();
    const sourceLocksBefore = await lockouts('source');
    const attacker = '203.0.113.50';
    // Spraying several names: 5 failures in the window block the address (per-user locks never reached per name).
    for (const user of ['ops', 'dev', 'nobody', 'ops', 'dev']) {
      assert.equal(reasonOf(await auth.authenticate(basicFrom(attacker, user, 'guess'))), 'basic_bad_credentials');
    }
    assert.equal(await lockouts('source'), sourceLocksBefore + 1);
    const blocked = await auth.authenticate(basicFrom(attacker, 'dev', 'dev-pass-123'));
    assert.equal(reasonOf(blocked), 'basic_source_locked_out', 'even the right password is refused: a block is no oracle');
    assert.ok(blocked.kind === 'fail' && !/203\.0\.113|dev/.test(blocked.description), 'the message names neither address nor user');
    // Hammering while blocked neither extends the block nor counts toward the users' locks.
    for (let i = 0; i < 10; i++) await auth.authenticate(basicFrom(attacker, 'dev', 'guess'));
    assert.equal(reasonOf(await auth.authenticate(basicFrom('198.51.100.20', 'dev', 'dev-pass-123'))), 'ok');
    assert.equal(await lockouts('source'), sourceLocksBefore + 1, 'one block, counted once');
    clock += SOURCE.lockSeconds * 1000;
    assert.equal(reasonOf(await auth.authenticate(basicFrom(attacker, 'dev', 'dev-pass-123'))), 'ok', 'the block ends on time');
  });

  test('a success does not reset the address count (a valid account cannot launder guesses)', async () => {
    const auth = authenticator();
    const from = '203.0.113.60';
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 2; i++) await auth.authenticate(basicFrom(from, `nobody-${round}-${i}`, 'guess'));
      assert.equal(reasonOf(await auth.authenticate(basicFrom(from, 'dev', 'dev-pass-123'))), 'ok');
    }
    assert.equal(reasonOf(await auth.authenticate(basicFrom(from, 'nobody-last', 'guess'))), 'basic_bad_credentials');
    assert.equal(reasonOf(await auth.authenticate(basicFrom(from, 'dev', 'dev-pass-123'))), 'basic_source_locked_out');
  });

  test('IPv6: one /64 is one source, another /64 is not affected', async () => {
    const auth = authenticator();
    // Distinct names: one name from one address is locked for it after 3 (and refused attempts count toward nothing).
    for (let i = 1; i <= 5; i++) await auth.authenticate(basicFrom(`2001:db8:aa:1::${i.toString(16)}`, `nobody-${i}`, 'guess'));
    assert.equal(reasonOf(await auth.authenticate(basicFrom('2001:db8:aa:1:ffff::77', 'dev', 'dev-pass-123'))), 'basic_source_locked_out');
    assert.equal(reasonOf(await auth.authenticate(basicFrom('2001:db8:aa:2::1', 'dev', 'dev-pass-123'))), 'ok');
  });

  test('exempt and unknown sources are never blocked and count the Kestra way (one of them can lock the user)', async () => {
    for (const from of ['10.9.3.4', '127.0.0.1', '']) {
      const auth = authenticator();
      for (let i = 0; i < 8; i++) await auth.authenticate(basicFrom(from, `nobody-${i}`, 'guess'));
      assert.equal(reasonOf(await auth.authenticate(basicFrom(from, 'dev', 'dev-pass-123'))), 'ok', `${from || '(none)'} is not blocked`);
      for (let i = 0; i < 3; i++) await auth.authenticate(basicFrom(from, 'dev', 'guess'));
      assert.equal(reasonOf(await auth.authenticate(basicFrom('198.51.100.30', 'dev', 'dev-pass-123'))), 'basic_locked_out');
      clock += USER.lockSeconds * 1000;
    }
  });

  test('turned off: no per-address state at all; threshold 1: any single failure locks for all', async () => {
    const off: LockoutStore = openLockoutStore(USER, store, { ...SOURCE, enabled: false }, now);
    assert.equal(off.sourceLockout, undefined);
    assert.ok(off instanceof LockoutTracker);
    const strict = authenticator({ ...USER, threshold: 1 });
    assert.equal(reasonOf(await strict.authenticate(basicFrom('198.51.100.40', 'ops', 'guess'))), 'basic_bad_credentials');
    assert.equal(reasonOf(await strict.authenticate(basicFrom('198.51.100.41', 'ops', 'correct-horse-1'))), 'basic_locked_out');
    clock += USER.lockSeconds * 1000;
  });

  test('a per-address store that is down → store_unavailable, never an allow nor a skipped check', async () => {
    const down = { isLocked(): never { throw new AuthzError('ERR_USERS_STORE', 'connection refused'); }, recordFailure(): never { throw new AuthzError('ERR_USERS_STORE', 'x'); }, recordSuccess() {},
      reserve(): never { throw new AuthzError('ERR_USERS_STORE', 'x'); }, confirmFailure(): never { throw new AuthzError('ERR_USERS_STORE', 'x'); }, release() {} };
    const lockout = Object.assign(new LockoutTracker({ ...USER, now }), { sourceLockout: new SourceLockout(SOURCE, { sources: down }) });
    const auth = new BasicAuthenticator({ store, lockout, enabled: true, now });
    assert.equal(reasonOf(await auth.authenticate(basicFrom('198.51.100.50', 'dev', 'dev-pass-123'))), 'store_unavailable');
    assert.equal(reasonOf(await auth.authenticate(basicFrom('198.51.100.50', 'dev', 'guess'))), 'store_unavailable');
    // Exempt addresses do not need the per-address store.
    assert.equal(reasonOf(await auth.authenticate(basicFrom('127.0.0.1', 'dev', 'dev-pass-123'))), 'ok');
  });

  test('metrics: lockouts by scope, never a user name or an address in any label', async () => {
    const text = await registry.metrics();
    assert.match(text, /kestra_authz_lockouts_total\{scope="user"\} [1-9]/);
    assert.match(text, /kestra_authz_lockouts_total\{scope="source"\} [1-9]/);
    assert.doesNotMatch(text, /203\.0\.113|198\.51\.100|2001:db8|scope="[^us]/);
    assert.doesNotMatch(text, /\{[^}]*"(ops|dev|nobody)"/);
  });
});

describe('authz.source-lockout config', () => {
  const base = (...authz: string[]) => yamlLines('kestra:', '  encryption:', `    secret-key: ${SECRET}`, 'authz:', ...authz);

  test('defaults: on, 20 failures / 5 min → 15 min, loopback exempt', () => {
    assert.deepEqual(load(base('  log: { level: info }')).sourceLockout, {
      enabled: true, threshold: 20, windowSeconds: 300, lockSeconds: 900, exempt: ['127.0.0.0/8', '::1/128'],
    });
    assert.deepEqual(DEFAULTS.sourceLockout.exempt, ['127.0.0.0/8', '::1/128']);
  });

  test('keys (kebab or camel case) and durations', () => {
    const config = load(base('  sourceLockout:', '    threshold: 50', '    monitoringWindow: PT10M', '    lock-duration: 1h', '    exempt: [10.0.0.0/8, "2001:db8::/32"]'));
    assert.deepEqual(config.sourceLockout, { enabled: true, threshold: 50, windowSeconds: 600, lockSeconds: 3600, exempt: ['10.0.0.0/8', '2001:db8::/32'] });
    assert.equal(load(base('  source-lockout: { enabled: false }')).sourceLockout.enabled, false);
    assert.deepEqual(load(base('  source-lockout: { exempt: [] }')).sourceLockout.exempt, []);
  });

  test('bad values are problems that name the key and line, never the value', () => {
    const problems = problemsOf(base(
      '  source-lockout:',
      '    threshold: 0',
      '    monitoring-window: soon',
      '    lock-duration: 0s',
      '    exempt: [10.0.0.0/8, secret-looking-value/99]',
      '    per-user: 3',
    ));
    const byKey = new Map(problems.map((p) => [p.key, p]));
    assert.match(byKey.get('authz.source-lockout.threshold')?.message ?? '', /whole number from 1/);
    assert.equal(byKey.get('authz.source-lockout.threshold')?.line, 6);
    assert.ok(byKey.has('authz.source-lockout.monitoring-window'));
    assert.match(byKey.get('authz.source-lockout.lock-duration')?.message ?? '', /longer than zero/);
    assert.match(byKey.get('authz.source-lockout.exempt')?.message ?? '', /entry 1 is not an IP address or CIDR/);
    assert.ok(byKey.has('authz.source-lockout.per-user'), 'unknown keys are errors');
    assert.doesNotMatch(JSON.stringify(problems), /secret-looking-value/);
  });
});
