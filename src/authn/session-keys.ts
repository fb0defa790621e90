/**
 * The keys of the login flow, derived once per config with HKDF-SHA256 so
 * the configured secrets are never used directly and each use has its own
 * key (a leak or misuse of one cannot forge another):
 * - `session`: HS256 key signing the session cookie (from the session secret);
 * - `refresh`: A256GCM key sealing the refresh-token cookie (refresh secret);
 * - `loginState`: A256GCM key sealing per-login state cookies (refresh secret,
 *   other label).
 */
import { hkdfSync } from 'node:crypto';
import type { Config } from '../config/types.js';

export interface SessionKeys {
  readonly session: Uint8Array;
  readonly refresh: Uint8Array;
  readonly loginState: Uint8Array;
}

// A fixed, public salt: HKDF stays sound with one (RFC 5869 §3.1); the secrets carry the entropy.
const SALT = 'kestra-authz/login-flow';

function derive(secret: Uint8Array, label: string): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', secret, SALT, label, 32));
}

export function deriveSessionKeys(secrets: Config['secrets']): SessionKeys {
  return Object.freeze({
    session: derive(secrets.session, 'session-cookie v1 HS256'),
    refresh: derive(secrets.refresh, 'refresh-cookie v1 A256GCM'),
    loginState: derive(secrets.refresh, 'login-state-cookie v1 A256GCM'),
  });
}
