/**
 * The two people of the demo: who they are at the IdP (claims, groups) and
 * the password each signs in with. Passwords are random per run — a demo
 * that listens on 127.0.0.1 still should not ship well-known credentials —
 * and are printed once in the banner, which is the point of a demo.
 */
import { randomInt } from 'node:crypto';

export interface DemoUser {
  /** The login name typed at the IdP; also the ID token's `sub` and `preferred_username`. */
  readonly login: string;
  readonly password: string;
  readonly name: string;
  readonly email: string;
  readonly groups: readonly string[];
  /** What this user may do, in words, for the banner. */
  readonly can: string;
}

/** Groups the IdP puts in the `groups` claim; the authz config binds roles to them. */
export const ADMIN_GROUP = 'kestra-admins';
export const VIEWER_GROUP = 'kestra-viewers';

// No look-alike characters (0/O, 1/l/I): the password is read off a terminal.
const ALPHABET = 'abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789';

export function randomPassword(length = 12): string {
  let out = '';
  for (let i = 0; i < length; i++) out += ALPHABET[randomInt(ALPHABET.length)];
  return out;
}

export function demoUsers(): readonly DemoUser[] {
  return [
    {
      login: 'alice', password: randomPassword(), name: 'Alice Admin', email: 'alice@demo.invalid',
      groups: [ADMIN_GROUP], can: 'everything (role admin via group kestra-admins)',
    },
    {
      login: 'bob', password: randomPassword(), name: 'Bob Viewer', email: 'bob@demo.invalid',
      groups: [VIEWER_GROUP], can: 'FLOW:READ only (role flow-viewer via group kestra-viewers)',
    },
  ];
}
