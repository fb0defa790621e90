/**
 * The `session` authenticator: our own session cookie, first in the chain.
 * - no session cookie → skip (Bearer/Basic may apply);
 * - bad signature, garbled, unknown provider → fail `session_invalid`;
 * - past the absolute expiry → fail `session_expired`;
 * - past the refresh time → refresh at the provider, then ok with the new
 *   cookies as response headers; failure → `session_expired` (the browser is
 *   then sent to log in again).
 * Refreshes are single-flight per session and refresh token: concurrent
 * requests share one call to the IdP, and requests that still carry the old
 * cookies shortly after reuse its result instead of spending a (one-time)
 * refresh token again — which would log the user out (oauth2-proxy's race).
 * Sessions from the Basic form read the users store on each use, so a
 * deleted user or a changed role takes effect at once, and carry the stamp
 * of the password they logged in with: a changed password ends them.
 * A session ended by a logout (its `sid` in `ended`) is refused.
 */
import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { AuthRequest } from '../core/auth-request.js';
import type { HeaderPair } from '../core/decision.js';
import type { Identity } from '../core/identity.js';
import type { AuthnFailureReason } from '../core/reasons.js';
import type { EndedSessions } from '../stores/ended-sessions.js';
import type { UsersStore } from '../stores/users-store.js';
import { SKIP, type Authenticator, type AuthnResult } from './authenticator.js';
import { credentialStamp } from './credential-stamp.js';
import type { SessionCookies, SessionRecord } from './session-cookie.js';
import type { RefreshCookies, RefreshGrant } from './session-refresh-cookie.js';

export type SessionRenewal =
  | { readonly kind: 'ok'; readonly record: SessionRecord; readonly cookies: readonly HeaderPair[] }
  | { readonly kind: 'failed' };

export interface SessionAuthenticatorOptions {
  readonly sessions: SessionCookies;
  readonly refreshCookies: RefreshCookies;
  readonly usersStore: UsersStore;
  /** `kestra.security.basic-auth.enabled`: sessions from the password form end when it is turned off. */
  readonly basicEnabled: boolean;
  /** Sessions ended by a logout (cookie store); a Map lookup per request. */
  readonly ended?: EndedSessions;
  /** Clock, epoch ms. */
  readonly now: () => number;
  /** Is `name` a configured OIDC provider? Sessions of a removed provider end. */
  readonly isProvider: (name: string) => boolean;
  readonly renew: (req: AuthRequest, record: SessionRecord, grant: RefreshGrant) => Promise<SessionRenewal>;
  /** How long a renewal's result is reused for requests still carrying the old cookies (default 60 s). */
  readonly reuseRenewalMs?: number;
}

/** A session failure (Bearer challenge: a session is a bearer credential in a cookie). */
export const sessionFailure = (reason: AuthnFailureReason, description: string): AuthnResult =>
  Object.freeze({ kind: 'fail', reason, description, scheme: 'Bearer' });
const fail = sessionFailure;

const INVALID = fail('session_invalid', 'the session cookie is not valid');
const EXPIRED = fail('session_expired', 'the session has expired');
const STORE_DOWN = fail('store_unavailable', 'the users store is unavailable');
const LOGOUTS_UNKNOWN = fail('store_unavailable', 'the shared logout list is unavailable');
/** The session was ended: logout, password change, user removed. */
export const SESSION_ENDED = fail('session_invalid', 'the session has ended (logout, password change or user removal)');

/**
 * A session from the password form: the user is re-read on every request, so
 * a deletion, a new tenant or a changed admin flag applies at once.
 */
export async function passwordFormSession(usersStore: UsersStore, record: SessionRecord): Promise<AuthnResult> {
  let user;
  try {
    user = await usersStore.get(record.subject);
  } catch {
    return STORE_DOWN;
  }
  if (!user) return SESSION_ENDED;
  // Not a secret (a hash of a salted hash, in a signed cookie): a plain compare is enough.
  if (record.credential === undefined || record.credential !== credentialStamp(user)) return SESSION_ENDED;
  const identity: Identity = Object.freeze({
    via: 'session',
    subject: user.username,
    name: user.username,
    groups: user.groups,
    admin: user.admin,
    expiresAt: record.expiresAt,
    ...(user.tenant !== undefined ? { tenant: user.tenant } : {}),
  });
  return { kind: 'ok', identity };
}

export function identityOfSession(record: SessionRecord): Identity {
  const identity: { -readonly [K in keyof Identity]: Identity[K] } = {
    via: 'session',
    subject: record.subject,
    name: record.name,
    groups: record.groups,
    provider: record.provider,
    expiresAt: record.expiresAt,
  };
  if (record.email) identity.email = record.email;
  if (record.issuer) identity.issuer = record.issuer;
  if (record.userinfoClaims?.length) identity.userinfoClaims = record.userinfoClaims;
  return Object.freeze(identity);
}

export function createSessionAuthenticator(options: SessionAuthenticatorOptions): Authenticator {
  const renewals = new LRUCache<string, Promise<SessionRenewal>>({
    max: 10_000,
    ttl: options.reuseRenewalMs ?? 60_000,
    ttlAutopurge: false,
  });

  const renewOnce = (req: AuthRequest, record: SessionRecord, grant: RefreshGrant): Promise<SessionRenewal> => {
    const key = `${record.sid}:${createHash('sha256').update(grant.refreshToken).digest('base64url')}`;
    const known = renewals.get(key);
    if (known) return known;
    const pending = options.renew(req, record, grant).catch((): SessionRenewal => ({ kind: 'failed' }));
    renewals.set(key, pending);
    return pending;
  };


  const authenticateCookie = async (req: AuthRequest): Promise<AuthnResult> => {
    const nowMs = options.now();
    const read = await options.sessions.read(req.cookies, Math.floor(nowMs / 1000));
    if (read.kind === 'absent') return SKIP;
    if (read.kind === 'invalid') return INVALID;
    if (read.kind === 'expired') return EXPIRED;
    const record = read.record;
    const ended = options.ended?.check(record.sid);
    if (ended !== undefined && ended !== 'live') return ended === 'ended' ? SESSION_ENDED : LOGOUTS_UNKNOWN;
    if (record.provider === '') return options.basicEnabled ? passwordFormSession(options.usersStore, record) : INVALID;
    if (!options.isProvider(record.provider)) return INVALID;
    if (record.refreshAt === undefined || nowMs < record.refreshAt * 1000) {
      return { kind: 'ok', identity: identityOfSession(record) };
    }
    // Refresh due: without its refresh cookie the session cannot be renewed, so it has ended.
    const grant = await options.refreshCookies.read(req.cookies, record.sid);
    if (!grant || grant.provider !== record.provider) return EXPIRED;
    const renewal = await renewOnce(req, record, grant);
    if (renewal.kind === 'failed') return EXPIRED;
    return { kind: 'ok', identity: identityOfSession(renewal.record), responseHeaders: renewal.cookies };
  };

  return {
    name: 'session',
    // Every request asks this first: without the session cookie it is skipped at once, without a promise.
    authenticate: (req) => (req.cookies.has(options.sessions.name) ? authenticateCookie(req) : SKIP),
  };
}
