/**
 * `kestra-authz auths users …`: manage the local (Basic-auth) users in the
 * store the config names. Accepts Kestra's own CLI spellings
 * (`create U [P] --tenant=T`, and the older `--username= --password=`).
 *
 * Exit codes: 0 done, 1 operational error (user exists / not found / store
 * down), 2 usage error. Passwords are never printed, logged or put in an
 * error message; with no password argument it is read from stdin.
 */
import { hashPassword, MAX_PASSWORD_BYTES } from '../authn/password-hash.js';
import type { Config } from '../config/types.js';
import { AuthzError } from '../core/errors.js';
import { openUsersStore } from '../stores/open-users-store.js';
import { labelProblem, usernameProblem } from '../stores/users-yaml.js';
import type { UserRecord, UsersStore } from '../stores/users-store.js';
import { parseArgs } from './parse-args.js';

export interface UsersCommandDeps {
  /** Only `users` is read: where the users live. */
  readonly config: Pick<Config, 'users'>;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** Reads one password from stdin (without echo when a TTY); absent = a password argument is required. */
  readonly readPassword?: () => Promise<string>;
}

export const MIN_PASSWORD_LENGTH = 8;

export const USERS_USAGE = `Usage:
  kestra-authz auths users create --username U [--password P] [--admin] [--tenant T] [--groups a,b] [--if-not-exists]
  kestra-authz auths users create U [P] [--admin] [--tenant T] [--groups a,b] [--if-not-exists]
  kestra-authz auths users list
  kestra-authz auths users delete U
  kestra-authz auths users set-password U [P]

With no password argument the password is read from stdin, which keeps it out
of the shell history and the process list. Passwords need at least
${MIN_PASSWORD_LENGTH} characters. --admin gives the built-in Admin role; --tenant limits the
user to one tenant; --groups feeds the group bindings.`;

const CREATE_FLAGS = {
  username: { type: 'string' }, password: { type: 'string' }, admin: { type: 'boolean' },
  tenant: { type: 'string' }, groups: { type: 'string' }, 'if-not-exists': { type: 'boolean' },
} as const;
const USER_FLAGS = { username: { type: 'string' } } as const;
const USER_PASSWORD_FLAGS = { username: { type: 'string' }, password: { type: 'string' } } as const;

function usage(message: string): AuthzError {
  return new AuthzError('ERR_CLI_USAGE', message);
}

export async function runUsersCommand(args: string[], deps: UsersCommandDeps): Promise<number> {
  const [subcommand, ...rest] = args;
  try {
    switch (subcommand) {
      case 'create': return await create(rest, deps);
      case 'list': return await list(rest, deps);
      case 'delete': return await remove(rest, deps);
      case 'set-password': return await setPassword(rest, deps);
      case 'help': case '--help': case '-h':
        deps.stdout(USERS_USAGE);
        return 0;
      case undefined:
        deps.stderr(USERS_USAGE);
        return 2;
      default:
        throw usage(`unknown users subcommand${/^[a-z-]{1,32}$/.test(subcommand) ? ` "${subcommand}"` : ''} (expected create, list, delete or set-password)`);
    }
  } catch (err) {
    return report(err, deps);
  }
}

function report(err: unknown, deps: UsersCommandDeps): number {
  if (err instanceof AuthzError) {
    if (err.code === 'ERR_CLI_USAGE') {
      deps.stderr(`error: ${err.message}\n\n${USERS_USAGE}`);
      return 2;
    }
    deps.stderr(`error: ${err.message}`);
    return 1;
  }
  // Messages we did not write (file system, stdin) name paths and codes, never the password.
  deps.stderr(`error: ${err instanceof Error ? err.message : 'unexpected failure'}`);
  return 1;
}

async function create(args: string[], deps: UsersCommandDeps): Promise<number> {
  const { flags, positionals } = parseArgs(args, CREATE_FLAGS);
  const username = takeUsername(flags.username, positionals, 'create');
  const passwordArg = flags.password ?? positionals.shift();
  if (positionals.length) throw usage('too many arguments for create (expected: create U [P] [options])');
  const tenant = flags.tenant;
  if (tenant !== undefined) checkLabel('tenant', tenant);
  const groups = parseGroups(flags.groups);
  const ifNotExists = flags['if-not-exists'] === true;
  return withStore(deps, async (store) => {
    // Checked before asking for a password: an idempotent run needs none.
    if (ifNotExists && (await store.get(username))) {
      deps.stdout(`user "${username}" already exists; left unchanged (--if-not-exists)`);
      return 0;
    }
    const passwordHash = await hashPassword(await newPassword(passwordArg, deps));
    const user: UserRecord = { username, passwordHash, admin: flags.admin === true, ...(tenant !== undefined ? { tenant } : {}), groups };
    if (!(await store.create(user, { ifNotExists }))) {
      deps.stdout(`user "${username}" already exists; left unchanged (--if-not-exists)`);
      return 0;
    }
    const details = [user.admin ? 'admin' : '', tenant !== undefined ? `tenant ${tenant}` : '', groups.length ? `groups ${groups.join(',')}` : '']
      .filter(Boolean).join(', ');
    deps.stdout(`created user "${username}"${details ? ` (${details})` : ''}`);
    return 0;
  });
}

async function list(args: string[], deps: UsersCommandDeps): Promise<number> {
  const { positionals } = parseArgs(args, {});
  if (positionals.length) throw usage('list takes no arguments');
  return withStore(deps, async (store) => {
    const users = (await store.list()).sort((a, b) => (a.username < b.username ? -1 : a.username > b.username ? 1 : 0));
    if (!users.length) {
      deps.stdout('no users');
      return 0;
    }
    // Only these four columns exist: the hash is never shown.
    const rows = [['USERNAME', 'ADMIN', 'TENANT', 'GROUPS'], ...users.map((u) => [
      u.username, u.admin ? 'yes' : 'no', u.tenant ?? '*', u.groups.length ? u.groups.join(',') : '-',
    ])];
    const widths = rows[0]!.map((_, col) => Math.max(...rows.map((row) => [...row[col]!].length)));
    deps.stdout(rows.map((row) => row.map((cell, col) => (col === row.length - 1 ? cell : pad(cell, widths[col]!))).join('  ')).join('\n'));
    return 0;
  });
}

async function remove(args: string[], deps: UsersCommandDeps): Promise<number> {
  const { flags, positionals } = parseArgs(args, USER_FLAGS);
  const username = takeUsername(flags.username, positionals, 'delete');
  if (positionals.length) throw usage('too many arguments for delete (expected: delete U)');
  return withStore(deps, async (store) => {
    await store.delete(username);
    deps.stdout(`deleted user "${username}"`);
    return 0;
  });
}

async function setPassword(args: string[], deps: UsersCommandDeps): Promise<number> {
  const { flags, positionals } = parseArgs(args, USER_PASSWORD_FLAGS);
  const username = takeUsername(flags.username, positionals, 'set-password');
  const passwordArg = flags.password ?? positionals.shift();
  if (positionals.length) throw usage('too many arguments for set-password (expected: set-password U [P])');
  return withStore(deps, async (store) => {
    // Fail before prompting when the user does not exist.
    if (!(await store.get(username))) throw new AuthzError('ERR_USER_NOT_FOUND', `user "${username}" does not exist`);
    await store.setPasswordHash(username, await hashPassword(await newPassword(passwordArg, deps)));
    deps.stdout(`password changed for user "${username}"`);
    return 0;
  });
}

/** `--username U` or the first positional (removed from `positionals`); validated. */
function takeUsername(flag: string | undefined, positionals: string[], command: string): string {
  const username = flag ?? positionals.shift();
  if (username === undefined || username === '') throw usage(`${command} needs a username (${command} U, or --username U)`);
  const problem = usernameProblem(username);
  if (problem) throw usage(problem);
  return username;
}

function checkLabel(kind: 'tenant' | 'group', value: string): void {
  const problem = labelProblem(kind, value);
  if (problem) throw usage(problem);
}

function parseGroups(text: string | undefined): string[] {
  if (text === undefined) return [];
  const groups = [...new Set(text.split(',').map((g) => g.trim()).filter((g) => g !== ''))];
  for (const group of groups) checkLabel('group', group);
  return groups;
}

/** The password from the argument, else from stdin; checked against the length policy (never echoed). */
async function newPassword(fromArgs: string | undefined, deps: UsersCommandDeps): Promise<string> {
  let password = fromArgs;
  if (password === undefined) {
    if (!deps.readPassword) throw usage('no password given: pass it as an argument or on stdin');
    password = (await deps.readPassword()).replace(/\r?\n$/, '');
  }
  if ([...password].length < MIN_PASSWORD_LENGTH) throw usage(`the password must be at least ${MIN_PASSWORD_LENGTH} characters long`);
  if (Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES) throw usage(`the password must be at most ${MAX_PASSWORD_BYTES} bytes long`);
  return password;
}

async function withStore(deps: UsersCommandDeps, work: (store: UsersStore) => Promise<number>): Promise<number> {
  const store = openUsersStore(deps.config.users);
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}

function pad(text: string, width: number): string {
  return text + ' '.repeat(Math.max(0, width - [...text].length));
}
