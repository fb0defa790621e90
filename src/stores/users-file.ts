/**
 * The default users store: one YAML file the CLI writes and the server reads.
 *
 *   users:
 *     - { username: ops, password-hash: "scrypt$…", admin: false, tenant: acme, groups: [a, b] }
 *
 * - Reads are served from memory. The file is stat'ed at most once per
 *   `recheckIntervalMs` (1 s) and re-read only when its identity (inode, size,
 *   mtime, ctime) changed — so a user created by the CLI in another process
 *   is seen without a restart, at the cost of one stat per second.
 * - A missing file means "no users". A file that cannot be read or parsed
 *   fails closed: every call throws ERR_USERS_STORE (Basic auth answers 503)
 *   until the file is fixed, and a broken file is never overwritten.
 * - Writes are atomic (temp file in the same directory, fsync, rename), the
 *   file is created 0600, and writes within this process are serialized.
 *   Two processes writing at the same instant can still lose one update (no
 *   cross-process lock); the PostgreSQL store is the answer for that.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { AuthzError } from '../core/errors.js';
import type { UserRecord, UsersStore } from './users-store.js';
import { normalize, parseUsersYaml, recordProblem, serializeUsers, usernameProblem } from './users-yaml.js';

export interface FileUsersStoreOptions {
  /** Clock in ms (default Date.now); injectable so tests need no waiting. */
  readonly now?: () => number;
  /** Minimum time between two stats of the file (default 1000 ms). */
  readonly recheckIntervalMs?: number;
}

const MAX_FILE_BYTES = 16 * 1024 * 1024;
interface Snapshot {
  /** inode:size:mtime:ctime, or 'absent'; null when the file could not even be stat'ed. */
  readonly signature: string | null;
  readonly users?: ReadonlyMap<string, UserRecord>;
  readonly error?: AuthzError;
}

export class FileUsersStore implements UsersStore {
  readonly path: string;
  readonly #now: () => number;
  readonly #interval: number;
  #snapshot: Snapshot | undefined;
  #checkedAt = 0;
  /** Loads are numbered so a slow, older load never replaces the result of a newer one. */
  #loadsStarted = 0;
  #loadApplied = 0;
  #refreshing: Promise<Snapshot> | undefined;
  #writes: Promise<unknown> = Promise.resolve();
  #closed = false;

  constructor(path: string, options: FileUsersStoreOptions = {}) {
    if (typeof path !== 'string' || path === '') throw new TypeError('users file path must be a non-empty string');
    this.path = resolve(path);
    this.#now = options.now ?? Date.now;
    this.#interval = options.recheckIntervalMs ?? 1000;
  }

  async get(username: string): Promise<UserRecord | undefined> {
    return (await this.#users()).get(username);
  }

  async list(): Promise<UserRecord[]> {
    return [...(await this.#users()).values()];
  }

  create(user: UserRecord, options: { ifNotExists?: boolean } = {}): Promise<boolean> {
    return this.#mutate((users) => {
      if (users.has(user.username)) {
        if (options.ifNotExists) return false;
        throw new AuthzError('ERR_USER_EXISTS', `user "${user.username}" already exists`);
      }
      const record = normalize(user);
      const problem = recordProblem(record);
      if (problem) throw new AuthzError('ERR_USERS_STORE', `cannot store user: ${problem}`);
      users.set(record.username, record);
      return true;
    });
  }

  async delete(username: string): Promise<void> {
    await this.#mutate((users) => {
      if (!users.delete(username)) throw notFound(username);
      return true;
    });
  }

  async setPasswordHash(username: string, passwordHash: string): Promise<void> {
    await this.#mutate((users) => {
      const user = users.get(username);
      if (!user) throw notFound(username);
      if (typeof passwordHash !== 'string' || passwordHash === '') throw new AuthzError('ERR_USERS_STORE', 'cannot store an empty password hash');
      users.set(username, { ...user, passwordHash });
      return true;
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#writes.catch(() => undefined);
  }

  async #users(): Promise<ReadonlyMap<string, UserRecord>> {
    if (this.#closed) throw new AuthzError('ERR_USERS_STORE', 'users store is closed');
    let snapshot = this.#snapshot;
    if (!snapshot || this.#now() - this.#checkedAt >= this.#interval) {
      // Concurrent callers share one stat/read.
      this.#refreshing ??= this.#load().finally(() => { this.#refreshing = undefined; });
      snapshot = await this.#refreshing;
    }
    if (snapshot.error) throw snapshot.error;
    return snapshot.users!;
  }

  /** Stats (and if changed, reads) the file through one descriptor, so size, identity and content agree. */
  async #load(): Promise<Snapshot> {
    const checkedAt = this.#now();
    const sequence = ++this.#loadsStarted;
    let snapshot: Snapshot;
    try {
      snapshot = await this.#readThrough();
    } catch (err) {
      snapshot = { signature: null, error: storeError(`cannot read users file ${this.path}`, err) };
    }
    if (sequence > this.#loadApplied) {
      this.#loadApplied = sequence;
      this.#snapshot = snapshot;
      this.#checkedAt = checkedAt;
    }
    return snapshot;
  }

  async #readThrough(): Promise<Snapshot> {
    let handle;
    try {
      handle = await open(this.path, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { signature: 'absent', users: new Map() };
      throw err;
    }
    try {
      const stat = await handle.stat();
      if (!stat.isFile()) throw new AuthzError('ERR_USERS_STORE', `users file ${this.path} is not a regular file`);
      const signature = `${stat.ino}:${stat.size}:${stat.mtimeMs}:${stat.ctimeMs}`;
      if (this.#snapshot?.signature === signature) return this.#snapshot;
      if (stat.size > MAX_FILE_BYTES) {
        return { signature, error: new AuthzError('ERR_USERS_STORE', `users file ${this.path} is larger than ${MAX_FILE_BYTES} bytes`) };
      }
      const text = await handle.readFile('utf8');
      try {
        return { signature, users: parseUsersYaml(text, this.path) };
      } catch (err) {
        return { signature, error: storeError(`invalid users file`, err) };
      }
    } finally {
      await handle.close();
    }
  }

  /** Runs one read-modify-write at a time, always on a fresh read of the file. */
  #mutate(change: (users: Map<string, UserRecord>) => boolean): Promise<boolean> {
    // Checked when the change is asked for: changes queued before close() still complete.
    if (this.#closed) return Promise.reject(new AuthzError('ERR_USERS_STORE', 'users store is closed'));
    const run = async (): Promise<boolean> => {
      const snapshot = await this.#load();
      if (snapshot.error) throw snapshot.error;
      const users = new Map(snapshot.users);
      if (!change(users)) return false;
      await this.#writeAtomically(serializeUsers([...users.values()]));
      await this.#load();
      return true;
    };
    const result = this.#writes.then(run, run);
    this.#writes = result.catch(() => undefined);
    return result;
  }

  async #writeAtomically(text: string): Promise<void> {
    const dir = dirname(this.path);
    const temp = join(dir, `.${basename(this.path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const handle = await open(temp, 'wx', 0o600);
      try {
        await handle.writeFile(text, 'utf8');
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, this.path);
    } catch (err) {
      await rm(temp, { force: true }).catch(() => undefined);
      throw storeError(`cannot write users file ${this.path}`, err);
    }
  }
}

function notFound(username: string): AuthzError {
  return new AuthzError('ERR_USER_NOT_FOUND', `user "${username}" does not exist`);
}

/** Wraps a failure as ERR_USERS_STORE; file-system errors are named by their code (never their content). */
function storeError(context: string, err: unknown): AuthzError {
  if (err instanceof AuthzError) return err.code === 'ERR_USERS_STORE' ? err : new AuthzError('ERR_USERS_STORE', `${context}: ${err.message}`, { cause: err });
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return new AuthzError('ERR_USERS_STORE', `${context}${code ? ` (${code})` : ''}`, { cause: err });
}
