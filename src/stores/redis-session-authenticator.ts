/**
 * The `session` authenticator of the Redis store. Same answers as the
 * cookie store's (session-authenticator.ts), plus:
 * - Redis unreachable → fail `store_unavailable` (503), never an allow;
 * - a session ended anywhere (logout, back-channel logout) is gone from
 *   Redis → `session_invalid`;
 * - refresh is single-flight across replicas: one replica takes
 *   `lock:refresh:<id>` (SET NX PX), re-reads the session under the lock (a
 *   replica may have refreshed it just before), renews at the IdP and
 *   replaces the stored session; the others wait and re-read, so a one-time
 *   refresh token is spent once. In one process, concurrent requests of one
 *   session share a single wait.
 * The cookie holds only the id, so a refresh sets no new cookie.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Authenticator, AuthnResult } from '../authn/authenticator.js';
import { SKIP } from '../authn/authenticator.js';
import { identityOfSession, passwordFormSession, sessionFailure } from '../authn/session-authenticator.js';
import type { SessionRecord } from '../authn/session-cookie.js';
import type { RefreshGrant } from '../authn/session-refresh-cookie.js';
import type { AuthRequest } from '../core/auth-request.js';
import type { RefreshResult } from '../oidc/flow-reasons.js';
import type { UsersStore } from './users-store.js';
import type { ServerSessionCodecs } from './session-id-cookies.js';
import { SessionStoreUnavailableError } from './session-revocations.js';
import { REFRESH_LOCK_MS, type RedisSessionStore } from './sessions-redis.js';
import type { StoredSession } from './stored-session.js';

export type Renewal = { readonly kind: 'ok' } | { readonly kind: 'failed'; readonly result: RefreshResult };

export interface RedisSessionAuthenticatorOptions {
  readonly codecs: ServerSessionCodecs;
  readonly store: RedisSessionStore;
  readonly usersStore: UsersStore;
  readonly basicEnabled: boolean;
  /** Clock, epoch ms. */
  readonly now: () => number;
  readonly isProvider: (name: string) => boolean;
  /** Renews at the IdP (its session write is captured by codecs.captureRefresh). */
  readonly renew: (req: AuthRequest, record: SessionRecord, grant: RefreshGrant) => Promise<Renewal>;
  /** Poll interval of a replica waiting for another's refresh, ms (default 50). */
  readonly waitStepMs?: number;
}

const fail = sessionFailure;

const INVALID = fail('session_invalid', 'the session is not valid (ended or unknown)');
const EXPIRED = fail('session_expired', 'the session has expired');
const SESSION_STORE_DOWN = fail('store_unavailable', 'the session store is unavailable');

const ok = (record: SessionRecord): AuthnResult => ({ kind: 'ok', identity: identityOfSession(record) });
const refreshDue = (record: SessionRecord, nowMs: number) => record.refreshAt !== undefined && nowMs >= record.refreshAt * 1000;

export function createRedisSessionAuthenticator(options: RedisSessionAuthenticatorOptions): Authenticator {
  const { codecs, store } = options;
  const waitStepMs = options.waitStepMs ?? 50;
  const refreshing = new Map<string, Promise<AuthnResult>>();


  /** Holding the lock: renew unless another replica already did, then replace the stored session. */
  const renewLocked = async (req: AuthRequest, id: string): Promise<AuthnResult> => {
    const current = await store.get(id, { fresh: true });
    if (!current) return INVALID;
    const record = current.record;
    if (!refreshDue(record, options.now())) return ok(record);
    if (!current.refreshToken) return EXPIRED;
    const grant: RefreshGrant = { sid: record.sid, provider: record.provider, refreshToken: current.refreshToken, idToken: current.idToken };
    const { result, written } = await codecs.captureRefresh(record, () => options.renew(req, record, grant));
    if (result.kind === 'failed' || !written) {
      // The IdP refused the refresh token (user logged out there, token revoked): the session is over everywhere.
      if (result.kind === 'failed' && result.result !== 'idp_unavailable') await store.delete(id);
      return EXPIRED;
    }
    const next: StoredSession = { ...written, idpSid: written.idpSid ?? current.idpSid };
    // Not resurrected: a logout that happened during the refresh wins.
    return (await store.replace(id, next)) ? ok(next.record) : INVALID;
  };

  const refreshShared = async (req: AuthRequest, id: string): Promise<AuthnResult> => {
    const giveUpAt = options.now() + REFRESH_LOCK_MS + 1000;
    for (;;) {
      const session = await store.get(id, { fresh: true });
      if (!session) return INVALID;
      const nowMs = options.now();
      if (nowMs >= session.record.expiresAt * 1000) return EXPIRED;
      if (!refreshDue(session.record, nowMs)) return ok(session.record);
      const token = await store.tryLock(id);
      if (token) {
        try {
          return await renewLocked(req, id);
        } finally {
          await store.unlock(id, token).catch(() => undefined); // it expires by itself
        }
      }
      // Another replica is refreshing: wait for its result rather than spend the refresh token again.
      if (nowMs >= giveUpAt) return EXPIRED;
      await sleep(waitStepMs);
    }
  };

  const refreshOnce = (req: AuthRequest, id: string): Promise<AuthnResult> => {
    let pending = refreshing.get(id);
    if (!pending) {
      pending = refreshShared(req, id).finally(() => refreshing.delete(id));
      refreshing.set(id, pending);
    }
    return pending;
  };

  const authenticateCookie = async (req: AuthRequest): Promise<AuthnResult> => {
    const id = codecs.idOf(req.cookies);
    if (!id) return INVALID; // forged, altered, or from the cookie store: Redis is not asked
    try {
      const session = await store.get(id);
      if (!session) return INVALID;
      const record = session.record;
      const nowMs = options.now();
      if (nowMs >= record.expiresAt * 1000) return EXPIRED;
      if (record.provider === '') return options.basicEnabled ? passwordFormSession(options.usersStore, record) : INVALID;
      if (!options.isProvider(record.provider)) return INVALID;
      if (!refreshDue(record, nowMs)) return ok(record);
      return await refreshOnce(req, id);
    } catch (err) {
      // Counted where it happened; anything else is a bug and becomes the door's 500 (never an allow).
      if (err instanceof SessionStoreUnavailableError) return SESSION_STORE_DOWN;
      throw err;
    }
  };

  return {
    name: 'session',
    // Every request asks this first: without the session cookie it is skipped at once, without a promise.
    authenticate: (req) => (req.cookies.get(codecs.sessions.name) ? authenticateCookie(req) : SKIP),
  };
}
