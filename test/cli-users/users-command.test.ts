/**
 * `auths users …` against a real users file: both create forms, list,
 * delete, set-password, exit codes, and passwords never in the output.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyPassword } from '../../src/authn/password-hash.js';
import { runUsersCommand, type UsersCommandDeps } from '../../src/cli/users-command.js';
import { FileUsersStore } from '../../src/stores/users-file.js';

interface Run {
  code: number;
  out: string;
  err: string;
}

describe('auths users', () => {
  let dir: string;
  let n = 0;
  let file: string;
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'kestra-authz-cli-users-')); });
  after(async () => { await rm(dir, { recursive: true, force: true }); });

  /** Each test gets its own users file. */
  const fresh = () => { file = join(dir, `users-${++n}.yaml`); };
  const run = async (args: string[], stdin?: string): Promise<Run> => {
    const out: string[] = [];
    const err: string[] = [];
    const deps: UsersCommandDeps = {
      config: { users: { store: 'file', file } },
      stdout: (s) => out.push(s),
      stderr: (s) => err.push(s),
      ...(stdin !== undefined ? { readPassword: async () => stdin } : {}),
    };
    const code = await runUsersCommand(args, deps);
    return { code, out: out.join('\n'), err: err.join('\n') };
  };
  const stored = async (username: string) => {
    const store = new FileUsersStore(file);
    try { return await store.get(username); } finally { await store.close(); }
  };

  test('create with flags: --admin, --groups, --tenant; the file is 0600 and holds only a hash', async () => {
    fresh();
    const r = await run(['create', '--username', 'ops', '--password', 'correct-horse-1', '--admin', '--groups', 'devs, ops,,devs', '--tenant', 'acme']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /created user "ops" \(admin, tenant acme, groups devs,ops\)/);
    assert.ok(!(r.out + r.err).includes('correct-horse-1'));
    const user = await stored('ops');
    assert.deepEqual({ ...user, passwordHash: undefined }, { username: 'ops', passwordHash: undefined, admin: true, tenant: 'acme', groups: ['devs', 'ops'] });
    assert.equal(await verifyPassword('correct-horse-1', user!.passwordHash), true);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.ok(!(await readFile(file, 'utf8')).includes('correct-horse-1'));
  });

  test("create in Kestra's positional form: create U P --tenant=T", async () => {
    fresh();
    const r = await run(['create', 'tenant-user', 'tenant-pass-1', '--tenant=acme']);
    assert.equal(r.code, 0, r.err);
    const user = await stored('tenant-user');
    assert.equal(user?.tenant, 'acme');
    assert.equal(user?.admin, false);
    assert.deepEqual(user?.groups, []);
    assert.equal(await verifyPassword('tenant-pass-1', user!.passwordHash), true);
  });

  test('create without a password reads it from stdin', async () => {
    fresh();
    assert.equal((await run(['create', 'quiet-user'], 'from-stdin-pass\n')).code, 0);
    assert.equal(await verifyPassword('from-stdin-pass', (await stored('quiet-user'))!.passwordHash), true);
    const noStdin = await run(['create', 'other-user']);
    assert.equal(noStdin.code, 2);
    assert.match(noStdin.err, /no password given/);
  });

  test('a duplicate is exit 1; --if-not-exists is exit 0 and changes nothing', async () => {
    fresh();
    await run(['create', 'ops', 'first-pass-1', '--admin']);
    const dup = await run(['create', 'ops', 'second-pass-2']);
    assert.equal(dup.code, 1);
    assert.match(dup.err, /user "ops" already exists/);
    const again = await run(['create', 'ops', 'second-pass-2', '--if-not-exists']);
    assert.equal(again.code, 0);
    assert.match(again.out, /already exists; left unchanged/);
    const user = await stored('ops');
    assert.equal(user?.admin, true);
    assert.equal(await verifyPassword('first-pass-1', user!.passwordHash), true);
    // Idempotent runs need no password at all.
    assert.equal((await run(['create', '--username', 'ops', '--if-not-exists'])).code, 0);
  });

  test('list shows username, admin, tenant and groups — never a hash', async () => {
    fresh();
    assert.equal((await run(['list'])).out, 'no users');
    await run(['create', 'zed', 'zed-pass-123', '--groups', 'a,b']);
    await run(['create', 'amy', 'amy-pass-123', '--admin', '--tenant', 'acme']);
    const r = await run(['list']);
    assert.equal(r.code, 0);
    assert.deepEqual(r.out.split('\n').map((line) => line.split(/\s+/)), [
      ['USERNAME', 'ADMIN', 'TENANT', 'GROUPS'],
      ['amy', 'yes', 'acme', '-'],
      ['zed', 'no', '*', 'a,b'],
    ]);
    assert.doesNotMatch(r.out, /scrypt|\$/);
  });

  test('delete removes the user; deleting again is exit 1', async () => {
    fresh();
    await run(['create', 'ops', 'ops-pass-123']);
    const r = await run(['delete', 'ops']);
    assert.equal(r.code, 0);
    assert.match(r.out, /deleted user "ops"/);
    assert.equal(await stored('ops'), undefined);
    const again = await run(['delete', 'ops']);
    assert.equal(again.code, 1);
    assert.match(again.err, /user "ops" does not exist/);
  });

  test('set-password: from the argument or stdin; the old password stops working', async () => {
    fresh();
    await run(['create', 'ops', 'old-pass-123']);
    const r = await run(['set-password', 'ops', 'new-pass-456']);
    assert.equal(r.code, 0, r.err);
    assert.ok(!(r.out + r.err).includes('new-pass-456'));
    let hash = (await stored('ops'))!.passwordHash;
    assert.equal(await verifyPassword('new-pass-456', hash), true);
    assert.equal(await verifyPassword('old-pass-123', hash), false);
    assert.equal((await run(['set-password', 'ops'], 'stdin-pass-789')).code, 0);
    hash = (await stored('ops'))!.passwordHash;
    assert.equal(await verifyPassword('stdin-pass-789', hash), true);
    const missing = await run(['set-password', 'ghost', 'whatever-123']);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /does not exist/);
  });

  test('usage errors are exit 2, name the problem and never echo a password', async () => {
    fresh();
    const cases: Array<[string[], RegExp]> = [
      [['create', '--username', 'ops', '--password', 'short'], /at least 8 characters/],
      [['create', 'ops', 'x'.repeat(1025)], /at most 1024 bytes/],
      [['create', '--password', 'long-enough-1'], /create needs a username/],
      [['create', 'a:b', 'long-enough-1'], /must not contain ':'/],
      [['create', 'ops', 'long-enough-1', 'extra'], /too many arguments/],
      [['create', 'ops', 'long-enough-1', '--superadmin'], /unknown option --superadmin/],
      [['create', 'ops', 'long-enough-1', '--groups', 'a,\u0007b'], /control characters/],
      [['create', 'ops', 'long-enough-1', '--tenant', ''], /tenant must be 1 to 256/],
      [['create', '--username'], /--username needs a value/],
      [['delete'], /delete needs a username/],
      [['list', 'extra'], /list takes no arguments/],
      [['frobnicate'], /unknown users subcommand "frobnicate"/],
      [[], /Usage:/],
    ];
    for (const [args, message] of cases) {
      const r = await run(args);
      assert.equal(r.code, 2, args.join(' '));
      assert.match(r.err, message, args.join(' '));
      assert.ok(!r.err.includes('long-enough-1') && !r.err.includes('short'), r.err);
    }
    const short = await run(['create', 'ops'], 'tiny');
    assert.equal(short.code, 2);
    assert.ok(!short.err.includes('tiny'));
    await assert.rejects(stat(file), { code: 'ENOENT' }, 'no usage error wrote anything');
  });

  test('help is exit 0; an unreachable postgres users store is a clear exit 1', async () => {
    fresh();
    const help = await run(['help']);
    assert.equal(help.code, 0);
    assert.match(help.out, /auths users create/);
    const out: string[] = [];
    const err: string[] = [];
    const code = await runUsersCommand(['list'], {
      // Port 1 on loopback: refused at once, no DNS, no waiting.
      config: { users: { store: 'postgres', url: 'postgres://admin:hunter2@127.0.0.1:1/kestra' } },
      stdout: (s) => out.push(s),
      stderr: (s) => err.push(s),
    });
    assert.equal(code, 1);
    assert.match(err.join('\n'), /PostgreSQL users store at 127\.0\.0\.1:1\/kestra: migrate failed \(ECONNREFUSED\)/);
    assert.doesNotMatch(err.join('\n'), /hunter2/);
  });
});
