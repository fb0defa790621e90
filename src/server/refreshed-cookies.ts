/**
 * A refreshed session's Set-Cookie lines, delivered behind forward-auth
 * proxies that drop the headers of a 2xx auth answer (only Envoy puts them on
 * the client's response: `allowed_client_headers_on_success` /
 * `response_headers_to_add`).
 *
 * - Caddy `forward_auth`, Traefik `forwardAuth` (X-Forwarded-Uri dialect):
 *   a non-2xx answer reaches the browser as it is, so a browser navigation
 *   that carried a refresh is answered `307` to the same URL with the new
 *   cookies (the refresh itself is done; the browser repeats the request with
 *   them and is allowed without another refresh). A script or API call gets
 *   its 200 — a 307 would replay a non-GET or surprise a fetch() — and the
 *   server-side refresh is reused for the old cookies during the renewal
 *   reuse window; the browser's next navigation picks the cookies up.
 * - nginx `auth_request` (X-Original-URI dialect): `auth_request_set` can
 *   read only the first of several Set-Cookie lines (nginx 1.22), so every
 *   line is also sent as `X-Authz-Set-Cookie-<n>` (n from 1), which the
 *   recipe adds back with one `add_header Set-Cookie` each — on the
 *   upstream's answer (2xx) and on the login redirect (401) alike: no extra
 *   hop, for API calls too.
 */
import { MAX_CHUNKS } from '../authn/session-cookie.js';
import type { Decision, HeaderPair } from '../core/decision.js';
import { isBrowserNavigation } from '../oidc/browser-navigation.js';
import { safeReturnPath } from '../oidc/return-path.js';
import type { HttpAuthQuestion } from './http-request.js';

export const NUMBERED_SET_COOKIE_PREFIX = 'x-authz-set-cookie-';
/**
 * How many numbered headers the nginx recipe reads back: the most a refresh
 * sets — the session cookie, its chunks or the expiry of stale ones (at most
 * MAX_CHUNKS in all), and the refresh cookie.
 */
export const NGINX_SET_COOKIE_SLOTS = MAX_CHUNKS + 2;

/** The one Set-Cookie line per numbered header the nginx recipe reads back. */
export function numberedSetCookies(pairs: readonly HeaderPair[]): HeaderPair[] {
  const out: HeaderPair[] = [];
  for (const [name, value] of pairs) if (name === 'set-cookie') out.push([`${NUMBERED_SET_COOKIE_PREFIX}${out.length + 1}`, value]);
  return out;
}

/**
 * Caddy/Traefik: the 307 that carries an allowed navigation's new cookies,
 * or undefined when the answer can stay a 200 (nothing to deliver, not a
 * navigation, or a proxy that passes them on).
 */
export function refreshRedirect(decision: Decision, question: HttpAuthQuestion): { location: string; cookies: HeaderPair[] } | undefined {
  if (!decision.allow || question.mode !== 'forward-auth' || question.nginx) return undefined;
  const cookies = decision.responseHeaders.filter(([name]) => name === 'set-cookie');
  if (!cookies.length || !isBrowserNavigation(question)) return undefined;
  // The proxy describes the URL; never let it become an open redirect (`//evil`).
  return { location: safeReturnPath(question.rawPath), cookies };
}
