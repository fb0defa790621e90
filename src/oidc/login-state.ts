/**
 * Per-login state cookies `OAUTH2_STATE_<id>`: one per login in progress, so
 * parallel tabs each finish their own login. Each holds, sealed (JWE
 * A256GCM): state, nonce, PKCE verifier, provider, redirect URI and return
 * path; it lives 5 minutes (cookie Max-Age and an `exp` inside, both checked).
 *
 * Capped: when a browser already carries MAX_LOGIN_STATES of them (many tabs,
 * abandoned logins), the oldest are expired as a new one is set, so they
 * cannot pile up into a 431 (mod_auth_openidc #108, oauth2-proxy #2163).
 * Path=/oauth: the browser sends them to /oauth/login/* (to count them) and
 * /oauth/callback/* (to use them), nowhere else.
 */
import { createHash } from 'node:crypto';
import type { HeaderPair } from '../core/decision.js';
import { openValue, sealValue } from '../authn/session-sealed-value.js';
import { expireCookie, setCookie, type CookieScope } from '../authn/session-set-cookie.js';

export const LOGIN_STATE_PREFIX = 'OAUTH2_STATE_';
export const LOGIN_STATE_PATH = '/oauth';
export const LOGIN_STATE_TTL_SECONDS = 300;
export const MAX_LOGIN_STATES = 5;
/** Never look at more state cookies than this in one request. */
const MAX_EXAMINED = 32;
const PURPOSE = 'kestra-authz/login-state';

export interface LoginState {
  readonly state: string;
  readonly nonce: string;
  readonly verifier: string;
  readonly provider: string;
  readonly redirectUri: string;
  readonly returnTo: string;
  /** Creation time, epoch ms (orders cookies for the cap). */
  readonly createdAt: number;
}

export interface LoginStates {
  cookieName(state: string): string;
  /** Set-Cookie lines: the new state cookie, and expiries for the oldest ones beyond the cap. */
  write(login: LoginState, secure: boolean, requestCookies: ReadonlyMap<string, string>): Promise<HeaderPair[]>;
  /** The unexpired login whose state is `state`, or undefined. */
  find(requestCookies: ReadonlyMap<string, string>, state: string, nowMs: number): Promise<LoginState | undefined>;
  clear(state: string, secure: boolean): HeaderPair;
}

function scope(secure: boolean): CookieScope {
  // Lax: the IdP sends the browser back with a top-level GET, which carries Lax cookies.
  return { path: LOGIN_STATE_PATH, secure, sameSite: 'lax' };
}

function parse(value: Record<string, unknown> | undefined): LoginState | undefined {
  if (!value) return undefined;
  const fields = ['state', 'nonce', 'verifier', 'provider', 'redirectUri', 'returnTo'] as const;
  for (const f of fields) if (typeof value[f] !== 'string' || value[f] === '') return undefined;
  if (typeof value.createdAt !== 'number') return undefined;
  return value as unknown as LoginState;
}

export function createLoginStates(key: Uint8Array): LoginStates {
  const cookieName = (state: string) =>
    LOGIN_STATE_PREFIX + createHash('sha256').update(state).digest('base64url').slice(0, 16);
  const open = async (sealed: string) => parse(await openValue(key, PURPOSE, sealed));
  const isLive = (login: LoginState, nowMs: number) =>
    nowMs >= login.createdAt - 60_000 && nowMs < login.createdAt + LOGIN_STATE_TTL_SECONDS * 1000;

  return {
    cookieName,
    async write(login, secure, requestCookies) {
      const existing: { name: string; createdAt: number }[] = [];
      for (const [name, value] of requestCookies) {
        if (!name.startsWith(LOGIN_STATE_PREFIX)) continue;
        if (existing.length >= MAX_EXAMINED) break;
        const found = await open(value);
        // Unreadable or expired ones sort first: they are the first to go.
        existing.push({ name, createdAt: found && isLive(found, login.createdAt) ? found.createdAt : 0 });
      }
      const out: HeaderPair[] = [setCookie(cookieName(login.state), await sealValue(key, PURPOSE, { ...login }), scope(secure), LOGIN_STATE_TTL_SECONDS)];
      existing.sort((a, b) => a.createdAt - b.createdAt);
      const excess = existing.length - (MAX_LOGIN_STATES - 1);
      for (let i = 0; i < excess; i++) out.push(expireCookie(existing[i]!.name, scope(secure)));
      return out;
    },
    async find(requestCookies, state, nowMs) {
      const sealed = requestCookies.get(cookieName(state));
      if (!sealed) return undefined;
      const login = await open(sealed);
      // The cookie name is only a hash prefix: the sealed state must match exactly.
      if (!login || login.state !== state || !isLive(login, nowMs)) return undefined;
      return login;
    },
    clear: (state, secure) => expireCookie(cookieName(state), scope(secure)),
  };
}
