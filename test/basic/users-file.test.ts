/**
 * FileUsersStore against real files in a temp dir: CRUD, 0600, atomic
 * writes, another process's changes seen without restart, and broken files
 * failing closed.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuthzError } from '../../src/core/errors.js';
import { openUsersStore } from '../../src/stores/open-users-store.js';
import { FileUsersStore } from '../../src/stores/users-file.js';
import { PostgresUsersStore } from '../../src/stores/users-postgres.js';
import { parseUsersYaml, serializeUsers, usernameProblem } from '../../src/stores/users-yaml.js';
import type { UserRecord } from '../../src/stores/users-store.js';

const HASH = 'scrypt$32768$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
const user = (username: string, extra: Partial<UserRecord> = {}): UserRecord =>
  ({ username, passwordHash: HASH, admin: false, groups: [], ...extra });
const hasCode = (code: string) => (err: unknown) => err instanceof AuthzError && err.code === code;

describe('FileUsersStore', () => {
  let dir: string;
  let n = 0;
  const fresh = () => join(dir, `users-${++n}.yaml`);
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'kestra-authz-users-')); });
  after(async () => { await rm(dir, { recursive: true, force: true }); });

  test('a missing file is an empty store; the first write creates it with mode 0600', async () => {
    const path = fresh();
    const store = new FileUsersStore(path);
    assert.deepEqual(await store.list(), []);
    assert.equal(await store.get('ops'), undefined);
    await assert.rejects(stat(path), { code: 'ENOENT' });
    assert.equal(await store.create(user('ops')), true);
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    await store.close();
  });

  test('create, get, list, setPasswordHash, delete — and what is on disk', async () => {
    const path = fresh();
    const store = new FileUsersStore(path);
    await store.create(user('ops', { admin: true, tenant: 'acme', groups: ['devs', 'ops', 'devs'] }));
    await store.create(user('viewer'));
    assert.deepEqual(await store.get('ops'), { username: 'ops', passwordHash: HASH, admin: true, tenant: 'acme', groups: ['devs', 'ops'] });
    assert.deepEqual((await store.list()).map((u) => u.username), ['ops', 'viewer']);
    const text = await readFile(path, 'utf8');
    assert.match(text, /password-hash: scrypt\$32768/);
    assert.deepEqual([...parseUsersYaml(text, path).keys()], ['ops', 'viewer']);

    await store.setPasswordHash('viewer', `${HASH.slice(0, -1)}B`);
    assert.equal((await store.get('viewer'))?.passwordHash.endsWith('B'), true);
    await store.delete('ops');
    assert.equal(await store.get('ops'), undefined);
    assert.deepEqual((await store.list()).map((u) => u.username), ['viewer']);
    await store.close();
  });

  test('typed errors: duplicate, not found, ifNotExists leaves the user unchanged', async () => {
    const store = new FileUsersStore(fresh());
    await store.create(user('ops', { admin: true }));
    await assert.rejects(store.create(user('ops')), hasCode('ERR_USER_EXISTS'));
    assert.equal(await store.create(user('ops'), { ifNotExists: true }), false);
    assert.equal((await store.get('ops'))?.admin, true);
    await assert.rejects(store.delete('ghost'), hasCode('ERR_USER_NOT_FOUND'));
    await assert.rejects(store.setPasswordHash('ghost', HASH), hasCode('ERR_USER_NOT_FOUND'));
    await assert.rejects(store.create(user('a:b')), hasCode('ERR_USERS_STORE'));
    await store.close();
  });

  test('concurrent creates in one process are all kept (writes are serialized)', async () => {
    const store = new FileUsersStore(fresh());
    await Promise.all(Array.from({ length: 20 }, (_, i) => store.create(user(`u${i}`))));
    assert.equal((await store.list()).length, 20);
    await store.close();
  });

  test('writes are atomic: temp file + rename, nothing left behind, a new inode each time', async () => {
    const path = fresh();
    const store = new FileUsersStore(path);
    await store.create(user('a'));
    const first = await stat(path);
    await store.create(user('b'));
    const second = await stat(path);
    assert.notEqual(first.ino, second.ino, 'the file was replaced by rename, not rewritten in place');
    const leftovers = (await readdir(dir)).filter((f) => f.endsWith('.tmp'));
    assert.deepEqual(leftovers, []);
    await store.close();
  });

  test('a change made by another instance (another process) is seen without restart', async () => {
    const path = fresh();
    let now = 0;
    const server = new FileUsersStore(path, { now: () => now });
    const cli = new FileUsersStore(path);
    assert.equal(await server.get('ops'), undefined);
    await cli.create(user('ops'));
    assert.equal(await server.get('ops'), undefined, 'within the recheck interval the file is not stat-ed again');
    now += 1000;
    assert.equal((await server.get('ops'))?.username, 'ops');
    await cli.delete('ops');
    now += 1000;
    assert.equal(await server.get('ops'), undefined);
    await server.close();
    await cli.close();
  });

  test('a hand-edited file is read, camelCase and null values accepted', async () => {
    const path = fresh();
    await writeFile(path, `users:\n  - username: alice\n    passwordHash: "${HASH}"\n    admin: true\n    tenant: null\n    groups: null\n`);
    const store = new FileUsersStore(path);
    assert.deepEqual(await store.get('alice'), { username: 'alice', passwordHash: HASH, admin: true, groups: [] });
    await writeFile(path, '');
    assert.deepEqual(await new FileUsersStore(path).list(), []);
    await writeFile(path, 'users:\n');
    assert.deepEqual(await new FileUsersStore(path).list(), []);
    await store.close();
  });

  test('a broken file fails closed with ERR_USERS_STORE naming the line, and is never overwritten', async () => {
    const cases: Array<[string, RegExp]> = [
      ['users: [\n', /:\d+: not valid YAML/],
      ['- just a list\n', /expected a mapping/],
      ['users: {a: 1}\n', /"users" must be a list/],
      [`users:\n  - username: ops\n    password-hash: "${HASH}"\n    admn: true\n`, /:2: unknown key "admn"/],
      [`users:\n  - username: ops\n    password-hash: "${HASH}"\n  - username: ops\n    password-hash: "${HASH}"\n`, /:4: user "ops" is listed twice/],
      [`users:\n  - username: "a:b"\n    password-hash: "${HASH}"\n`, /':'/],
      ['users:\n  - username: ops\n', /password-hash must be/],
      [`users:\n  - username: ops\n    password-hash: "${HASH}"\n    admin: "yes"\n`, /admin must be true or false/],
      [`users:\n  - username: ops\n    password-hash: "${HASH}"\n    groups: "a,b"\n`, /groups must be a list/],
    ];
    for (const [text, message] of cases) {
      const path = fresh();
      await writeFile(path, text);
      const store = new FileUsersStore(path);
      await assert.rejects(store.get('ops'), (err: unknown) => hasCode('ERR_USERS_STORE')(err) && message.test((err as Error).message), text);
      await assert.rejects(store.create(user('new')), hasCode('ERR_USERS_STORE'));
      assert.equal(await readFile(path, 'utf8'), text, 'the broken file was left as it was');
      await store.close();
    }
  });

  test('a path that is a directory or unreadable is ERR_USERS_STORE, not "no users"', async () => {
    const path = join(dir, 'a-directory');
    await mkdir(path);
    await assert.rejects(new FileUsersStore(path).get('ops'), hasCode('ERR_USERS_STORE'));
    if (process.getuid?.() !== 0) {
      const locked = fresh();
      await writeFile(locked, 'users: []\n');
      await chmod(locked, 0o000);
      await assert.rejects(new FileUsersStore(locked).get('ops'), hasCode('ERR_USERS_STORE'));
    }
  });

  test('a store that was broken recovers once the file is fixed', async () => {
    const path = fresh();
    let now = 0;
    await writeFile(path, 'users: [\n');
    const store = new FileUsersStore(path, { now: () => now });
    await assert.rejects(store.get('ops'), hasCode('ERR_USERS_STORE'));
    await writeFile(path, serializeUsers([user('ops')]));
    now += 1000;
    assert.equal((await store.get('ops'))?.username, 'ops');
    await store.close();
  });

  test('username rules', () => {
    assert.equal(usernameProblem('alice@example.com'), undefined);
    assert.equal(usernameProblem('Zoë'), undefined);
    assert.match(usernameProblem('')!, /1 to 128/);
    assert.match(usernameProblem('x'.repeat(129))!, /1 to 128/);
    assert.equal(usernameProblem('x'.repeat(128)), undefined);
    assert.match(usernameProblem('a:b')!, /':'/);
    assert.match(usernameProblem('a\nb')!, /control/);
    assert.match(usernameProblem('a\u0085b')!, /control/);
    assert.match(usernameProblem(' ops')!, /whitespace/);
  });

  test('openUsersStore: file → FileUsersStore; postgres → PostgresUsersStore; a bad postgres URL → a clear ERR_USERS_STORE', async () => {
    assert.ok(openUsersStore({ store: 'file', file: fresh() }) instanceof FileUsersStore);
    // Opening does no I/O: the pool connects at the first query.
    const pg = openUsersStore({ store: 'postgres', url: 'postgres://u:pw@db/x' });
    assert.ok(pg instanceof PostgresUsersStore);
    await pg.close();
    assert.throws(() => openUsersStore({ store: 'postgres', url: 'postgres://u:pw@db/x?schema=bad-name;drop' }), (err: unknown) =>
      hasCode('ERR_USERS_STORE')(err) && /schema must be/.test((err as Error).message)
      && !(err as Error).message.includes('pw'));
  });
});
