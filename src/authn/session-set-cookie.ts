/**
 * Set-Cookie lines for our cookies. One builder so every cookie we set and
 * every cookie we expire carries the same Path/Domain (a cookie is only
 * replaced or removed by a Set-Cookie with the same name, Path and Domain).
 */
import type { HeaderPair } from '../core/decision.js';

export interface CookieScope {
  readonly path: string;
  readonly domain?: string;
  readonly secure: boolean;
  readonly sameSite: 'lax' | 'strict' | 'none';
}

const SAME_SITE = { lax: 'Lax', strict: 'Strict', none: 'None' } as const;

/** Browsers guarantee 4096 bytes per cookie; we keep each whole Set-Cookie line under this. */
export const MAX_SET_COOKIE_BYTES = 4000;

export function setCookie(name: string, value: string, scope: CookieScope, maxAgeSeconds: number): HeaderPair {
  let line = `${name}=${value}; Path=${scope.path}`;
  if (scope.domain) line += `; Domain=${scope.domain}`;
  line += `; Max-Age=${Math.max(0, Math.floor(maxAgeSeconds))}; HttpOnly`;
  // SameSite=None is only honoured on Secure cookies; browsers drop the cookie otherwise.
  if (scope.secure || scope.sameSite === 'none') line += '; Secure';
  line += `; SameSite=${SAME_SITE[scope.sameSite]}`;
  return ['set-cookie', line];
}

/** Removes a cookie: empty value, Max-Age=0, same Path/Domain. */
export function expireCookie(name: string, scope: CookieScope): HeaderPair {
  return setCookie(name, '', scope, 0);
}

/** Length in bytes of the Set-Cookie line's value (what the 4 KB budget counts). */
export function setCookieBytes(pair: HeaderPair): number {
  return Buffer.byteLength(pair[1], 'utf8');
}

/**
 * Path/Domain/SameSite from `micronaut.security.token.cookie.*`; Secure from
 * `cookie-secure`, else from the external URL, else from the request's own
 * scheme. Cookie flags and the external URL must agree, or the browser drops
 * the cookie after an http→https hop (authservice #240).
 */
export function sessionCookieScope(
  cookie: { readonly path: string; readonly domain?: string; readonly secure?: boolean; readonly sameSite: 'lax' | 'strict' | 'none' },
  externalUrl: string | undefined,
  requestScheme: string,
): CookieScope {
  const secure = cookie.secure ?? (externalUrl ? externalUrl.startsWith('https:') : requestScheme === 'https');
  return { path: cookie.path, domain: cookie.domain, secure, sameSite: cookie.sameSite };
}
