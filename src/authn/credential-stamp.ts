/**
 * The stamp of a local user's password, kept in a password-form session at
 * login: a session whose stamp no longer matches the user's stored password
 * hash has ended (`auths users set-password`, or the user deleted and
 * created again). The stored hash is salted per password, so setting even
 * the same password again gives a new stamp.
 *
 * The stamp is a truncated SHA-256 of the stored scrypt encoding under a
 * domain label: it reveals nothing usable about the password (the salt and
 * the derived key stay in the store), so it may sit in a signed, readable
 * cookie. One hash per user record, remembered while the record is in use:
 * a session check costs a WeakMap lookup and a string compare.
 */
import { createHash } from 'node:crypto';
import type { UserRecord } from '../stores/users-store.js';

const LABEL = 'kestra-authz/credential-stamp v1\u0000';
const stamps = new WeakMap<UserRecord, string>();

export function credentialStamp(user: UserRecord): string {
  let stamp = stamps.get(user);
  if (stamp === undefined) {
    stamp = createHash('sha256').update(LABEL).update(user.passwordHash, 'utf8').digest('base64url').slice(0, 22);
    stamps.set(user, stamp);
  }
  return stamp;
}
