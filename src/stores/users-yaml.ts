/**
 * The users-file format (YAML) and the name rules every users store shares:
 *
 *   users:
 *     - { username: ops, password-hash: "scrypt$…", admin: false, tenant: acme, groups: [a, b] }
 *
 * Parsing is strict and fails closed: any problem rejects the whole file,
 * naming the line, so a half-read file never silently drops a user.
 */
import { Document, LineCounter, isMap, isSeq, parseDocument } from 'yaml';
import { AuthzError } from '../core/errors.js';
import type { UserRecord } from './users-store.js';

const CONTROL_CHARS = /\p{Cc}/u;
const ENTRY_KEYS = new Set(['username', 'password-hash', 'passwordHash', 'admin', 'tenant', 'groups']);

/** Why a user name cannot be stored, or undefined when it can. Basic auth cannot carry ':' in a name. */
export function usernameProblem(name: string): string | undefined {
  const length = [...name].length;
  if (length < 1 || length > 128) return 'a username must be 1 to 128 characters long';
  if (CONTROL_CHARS.test(name)) return 'a username must not contain control characters';
  if (name.includes(':')) return "a username must not contain ':' (HTTP Basic cannot carry it)";
  if (name.trim() !== name) return 'a username must not start or end with whitespace';
  return undefined;
}

/** Why a group or tenant name cannot be stored (',' would split it in x-kestra-groups). */
export function labelProblem(kind: 'group' | 'tenant', value: string): string | undefined {
  const length = [...value].length;
  if (length < 1 || length > 256) return `a ${kind} must be 1 to 256 characters long`;
  if (CONTROL_CHARS.test(value) || value.includes(',')) return `a ${kind} must not contain control characters or ','`;
  if (value.trim() !== value) return `a ${kind} must not start or end with whitespace`;
  return undefined;
}

export function recordProblem(user: UserRecord): string | undefined {
  if (typeof user.passwordHash !== 'string' || user.passwordHash === '') return 'password-hash must be a non-empty string';
  return usernameProblem(user.username)
    ?? (user.tenant !== undefined ? labelProblem('tenant', user.tenant) : undefined)
    ?? user.groups.map((g) => labelProblem('group', g)).find((p) => p !== undefined);
}

export function normalize(user: UserRecord): UserRecord {
  return {
    username: user.username,
    passwordHash: user.passwordHash,
    admin: user.admin === true,
    ...(user.tenant !== undefined ? { tenant: user.tenant } : {}),
    groups: [...new Set(user.groups ?? [])],
  };
}

/** Parses and validates the whole file; any problem rejects the file (fail closed), naming the line. */
export function parseUsersYaml(text: string, path: string): Map<string, UserRecord> {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const fail = (offset: number | undefined, message: string): never => {
    const where = offset === undefined ? '' : `:${lines.linePos(offset).line}`;
    throw new AuthzError('ERR_USERS_STORE', `${path}${where}: ${message}`);
  };
  const firstError = doc.errors[0];
  if (firstError) fail(firstError.pos[0], `not valid YAML (${firstError.code})`);
  const users = new Map<string, UserRecord>();
  if (doc.contents === null) return users;
  if (!isMap(doc.contents)) return fail(doc.contents.range?.[0], 'expected a mapping with a "users" list');
  const seq = doc.contents.get('users', true);
  if (seq === undefined || seq === null || (typeof seq === 'object' && 'value' in seq && seq.value === null)) return users;
  if (!isSeq(seq)) return fail(undefined, '"users" must be a list');
  for (const item of seq.items) {
    const at = (item as { range?: [number, number, number] } | null)?.range?.[0];
    if (!isMap(item)) return fail(at, 'each user must be a mapping');
    const entry = item.toJSON() as Record<string, unknown>;
    const unknown = Object.keys(entry).find((k) => !ENTRY_KEYS.has(k));
    if (unknown !== undefined) fail(at, `unknown key "${unknown}" in a user entry`);
    const passwordHash = entry['password-hash'] ?? entry.passwordHash;
    const { username, admin, tenant, groups } = entry;
    if (typeof username !== 'string') return fail(at, 'username must be a string');
    if (admin !== undefined && admin !== null && typeof admin !== 'boolean') fail(at, 'admin must be true or false');
    if (tenant !== undefined && tenant !== null && typeof tenant !== 'string') fail(at, 'tenant must be a string');
    if (groups !== undefined && groups !== null && !(Array.isArray(groups) && groups.every((g) => typeof g === 'string'))) {
      fail(at, 'groups must be a list of strings');
    }
    const record = normalize({
      username,
      passwordHash: passwordHash as string,
      admin: admin === true,
      ...(typeof tenant === 'string' ? { tenant } : {}),
      groups: (groups as string[] | null | undefined) ?? [],
    });
    const problem = recordProblem(record);
    if (problem) fail(at, problem);
    if (users.has(username)) fail(at, `user "${username}" is listed twice`);
    users.set(username, record);
  }
  return users;
}

export function serializeUsers(users: readonly UserRecord[]): string {
  const doc = new Document({
    users: users.map((u) => ({
      username: u.username,
      'password-hash': u.passwordHash,
      admin: u.admin,
      ...(u.tenant !== undefined ? { tenant: u.tenant } : {}),
      groups: [...u.groups],
    })),
  });
  doc.commentBefore = ' Local users for kestra-authz Basic auth. Managed by `kestra-authz auths users`.\n Only slow salted password hashes are stored here, never passwords.';
  return doc.toString();
}
