/**
 * The refresh cookie (`<name>_REFRESH_TOKEN`): the IdP's refresh token — and,
 * when it fits, the ID token for `id_token_hint` at logout — sealed with
 * JWE dir/A256GCM under a key derived from the refresh-token secret. Bound to
 * one session id and provider, so a refresh cookie cannot be paired with
 * another session.
 */
import type { HeaderPair } from '../core/decision.js';
import { openValue, sealValue } from './session-sealed-value.js';
import { expireCookie, MAX_SET_COOKIE_BYTES, setCookie, type CookieScope } from './session-set-cookie.js';

export interface RefreshGrant {
  readonly sid: string;
  readonly provider: string;
  readonly refreshToken: string;
  readonly idToken?: string;
}

const PURPOSE = 'kestra-authz/refresh';

export interface RefreshCookies {
  readonly name: string;
  /**
   * Set-Cookie for `grant`. Drops the ID token when the cookie would not fit
   * (logout then goes without id_token_hint); undefined when even the refresh
   * token alone does not fit (the session then lives without refresh).
   */
  write(grant: RefreshGrant, scope: CookieScope, maxAgeSeconds: number): Promise<HeaderPair | undefined>;
  /** The grant of session `sid`, or undefined (absent, garbled, another session's). */
  read(cookies: ReadonlyMap<string, string>, sid: string): Promise<RefreshGrant | undefined>;
  clear(scope: CookieScope): HeaderPair;
}

export function createRefreshCookies(sessionCookieName: string, key: Uint8Array): RefreshCookies {
  const name = `${sessionCookieName}_REFRESH_TOKEN`;
  const seal = async (grant: RefreshGrant, withIdToken: boolean) => {
    const payload: Record<string, string> = { sid: grant.sid, p: grant.provider, rt: grant.refreshToken };
    if (withIdToken && grant.idToken) payload.it = grant.idToken;
    return sealValue(key, PURPOSE, payload);
  };
  return {
    name,
    async write(grant, scope, maxAgeSeconds) {
      for (const withIdToken of grant.idToken ? [true, false] : [false]) {
        const pair = setCookie(name, await seal(grant, withIdToken), scope, maxAgeSeconds);
        if (Buffer.byteLength(pair[1]) <= MAX_SET_COOKIE_BYTES) return pair;
      }
      return undefined;
    },
    async read(cookies, sid) {
      const sealed = cookies.get(name);
      if (!sealed) return undefined;
      const p = await openValue(key, PURPOSE, sealed);
      if (!p || p.sid !== sid || typeof p.p !== 'string' || typeof p.rt !== 'string' || p.rt === '') return undefined;
      return { sid, provider: p.p, refreshToken: p.rt, idToken: typeof p.it === 'string' ? p.it : undefined };
    },
    clear: (scope) => expireCookie(name, scope),
  };
}
