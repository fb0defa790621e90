/**
 * The session and refresh "cookies" of the Redis store, behind the same
 * SessionCookies / RefreshCookies contracts the login flow writes through:
 * - the session cookie holds only `<id>.<mac>`: a 32-byte random id
 *   (base64url) and its HMAC-SHA256 under a key derived from the session
 *   secret — a forged or altered id is refused before Redis is asked;
 * - the IdP's refresh token and ID token never reach the browser: they are
 *   stored with the session. `refreshCookies.write()` hands the grant over
 *   and answers with the expiry of any old refresh cookie.
 *
 * Order of a login (session-from-tokens.ts): refreshCookies.write(grant),
 * then sessions.write(record) with the same record.sid — the grant waits in
 * a short-lived map between the two. During a refresh (captureRefresh) the
 * written session is captured instead of stored: the refreshing replica
 * replaces it in Redis itself, under the refresh lock.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { SessionCookies, SessionRecord } from '../authn/session-cookie.js';
import type { RefreshCookies, RefreshGrant } from '../authn/session-refresh-cookie.js';
import { expireCookie, setCookie, type CookieScope } from '../authn/session-set-cookie.js';
import type { HeaderPair } from '../core/decision.js';
import type { RedisSessionStore } from './sessions-redis.js';
import { idpSidOf, type StoredSession } from './stored-session.js';

export interface ServerSessionCodecs {
  readonly sessions: SessionCookies;
  readonly refreshCookies: RefreshCookies;
  /** The session id of the request's session cookie when its MAC holds; undefined otherwise. */
  idOf(cookies: ReadonlyMap<string, string>): string | undefined;
  /** Runs `renew` for the session `record.sid`; what it writes is returned instead of stored. */
  captureRefresh<T>(record: SessionRecord, renew: () => Promise<T>): Promise<{ readonly result: T; readonly written?: StoredSession }>;
}

const ID_BYTES = 32;
const ID = /^[A-Za-z0-9_-]{43}$/;

export function newStoredSessionId(): string {
  return randomBytes(ID_BYTES).toString('base64url');
}

interface Capture {
  grant?: RefreshGrant;
  written?: StoredSession;
}

export function createSessionIdCookies(cookieName: string, cookieKey: Uint8Array, store: RedisSessionStore): ServerSessionCodecs {
  const refreshName = `${cookieName}_REFRESH_TOKEN`;
  const chunk = new RegExp(`^${cookieName.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}_\\d{1,3}$`);
  const pendingGrants = new LRUCache<string, RefreshGrant>({ max: 10_000, ttl: 60_000 });
  const captures = new Map<string, Capture>();

  const mac = (id: string) => createHmac('sha256', cookieKey).update(`session-id v1:${id}`).digest();
  const cookieValue = (id: string) => `${id}.${mac(id).toString('base64url')}`;

  const idOf = (cookies: ReadonlyMap<string, string>): string | undefined => {
    const value = cookies.get(cookieName);
    if (!value) return undefined;
    const dot = value.indexOf('.');
    const id = value.slice(0, dot);
    if (dot < 0 || !ID.test(id)) return undefined;
    const given = Buffer.from(value.slice(dot + 1), 'base64url');
    const expected = mac(id);
    return given.length === expected.length && timingSafeEqual(given, expected) ? id : undefined;
  };

  const stored = (record: SessionRecord, grant: RefreshGrant | undefined): StoredSession => ({
    record,
    refreshToken: grant?.refreshToken,
    idToken: grant?.idToken,
    // The record has it from the ID token even when no refresh token (so no grant) came with it.
    idpSid: record.idpSid ?? idpSidOf(grant?.idToken),
  });

  /** Cookies of the cookie store left in the browser (chunks) are expired when a server-side session starts. */
  const staleChunks = (requestCookies: ReadonlyMap<string, string>, scope: CookieScope): HeaderPair[] =>
    [...requestCookies.keys()].filter((n) => chunk.test(n)).map((n) => expireCookie(n, scope));

  const sessions: SessionCookies = {
    name: cookieName,
    async write(record, scope, maxAgeSeconds, requestCookies) {
      const capture = captures.get(record.sid);
      if (capture) {
        capture.written = stored(record, capture.grant);
        return [];
      }
      const grant = pendingGrants.get(record.sid);
      pendingGrants.delete(record.sid);
      const id = newStoredSessionId();
      await store.create(id, stored(record, grant));
      return [setCookie(cookieName, cookieValue(id), scope, maxAgeSeconds), ...staleChunks(requestCookies, scope)];
    },
    async read(cookies, nowSeconds) {
      if (!cookies.get(cookieName)) return { kind: 'absent' };
      const id = idOf(cookies);
      if (!id) return { kind: 'invalid' };
      const session = await store.get(id);
      if (!session) return { kind: 'invalid' };
      return nowSeconds >= session.record.expiresAt ? { kind: 'expired', record: session.record } : { kind: 'ok', record: session.record };
    },
    clear(scope, requestCookies) {
      return [expireCookie(cookieName, scope), ...staleChunks(requestCookies, scope)];
    },
  };

  const refreshCookies: RefreshCookies = {
    name: refreshName,
    async write(grant, scope) {
      const capture = captures.get(grant.sid);
      if (capture) capture.grant = grant;
      else pendingGrants.set(grant.sid, grant);
      return expireCookie(refreshName, scope);
    },
    async read(cookies, sid) {
      const id = idOf(cookies);
      const session = id ? await store.get(id) : undefined;
      if (!session || session.record.sid !== sid || !session.refreshToken) return undefined;
      return { sid, provider: session.record.provider, refreshToken: session.refreshToken, idToken: session.idToken };
    },
    clear: (scope) => expireCookie(refreshName, scope),
  };

  return {
    sessions,
    refreshCookies,
    idOf,
    async captureRefresh(record, renew) {
      // One refresh per session at a time in this process (the authenticator single-flights per id).
      const capture: Capture = {};
      captures.set(record.sid, capture);
      try {
        const result = await renew();
        return { result, written: capture.written };
      } finally {
        captures.delete(record.sid);
      }
    },
  };
}
