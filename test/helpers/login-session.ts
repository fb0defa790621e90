/**
 * Logging in through the gRPC door, step by step, as Envoy carries a browser
 * through it:
 *
 *   navigation ─Check→ denied 302 → IdP (+ Set-Cookie login state)   beginLogin
 *   IdP login + consent (an HTTP client)  → /oauth/callback/<p>?code&state   signIn
 *   callback ─Check→ denied 302 → original URL (+ Set-Cookie session)        finishLogin
 *
 * Each step asserts only what every login needs; tests check the rest on
 * the answers returned.
 */
import assert from 'node:assert/strict';
import { cookieHeader, cookiesFromSetCookie, mergeSetCookie, type CookieJar } from './cookie-jar.js';
import { EXTERNAL_URL, NAVIGATION, expectDenied, type DeniedResponse, type GrpcDoor } from './grpc-door.js';
import { headerOf, headersOf, type CheckResponseJs } from './grpc-client.js';

export interface LoginStart {
  /** The denial that sends the browser to the IdP. */
  readonly response: DeniedResponse;
  readonly authorizeUrl: URL;
  /** The login-state cookies it set. */
  readonly jar: CookieJar;
}

/**
 * With one provider the service may send the browser straight to the IdP or
 * to its own `/oauth/login/<p>` first; the browser follows either. Follows our
 * own hop (as another Check) so the answer returned points at the IdP.
 */
export async function followToProvider(door: GrpcDoor, res: DeniedResponse): Promise<DeniedResponse> {
  const location = new URL(headerOf(res.headers, 'location') ?? '', EXTERNAL_URL);
  if (location.origin !== EXTERNAL_URL || !location.pathname.startsWith('/oauth/login/')) return res;
  const next = await door.check({ path: location.pathname + location.search, headers: NAVIGATION });
  return expectDenied(next, 302);
}

/** A navigation to `/oauth/login/<p>…` → the IdP's authorization URL and the login-state cookies. */
export async function beginLogin(door: GrpcDoor, path: string): Promise<LoginStart> {
  return loginStartOf(expectDenied(await door.check({ path, headers: NAVIGATION }), 302));
}

/** A navigation to a protected page without a session, with one provider: to the IdP, maybe via our own hop. */
export async function beginLoginAtPage(door: GrpcDoor, path: string): Promise<LoginStart> {
  return loginStartOf(await followToProvider(door, expectDenied(await door.check({ path, headers: NAVIGATION }), 302)));
}

function loginStartOf(response: DeniedResponse): LoginStart {
  return {
    response,
    authorizeUrl: new URL(headerOf(response.headers, 'location') ?? ''),
    jar: cookiesFromSetCookie(headersOf(response.headers, 'set-cookie')),
  };
}

/** The browser arriving at the callback URL the IdP sent it to, with the cookies of `jar`. */
export function callbackCheck(door: GrpcDoor, url: string, jar: ReadonlyMap<string, string>): Promise<CheckResponseJs> {
  const u = new URL(url);
  return door.check({ path: u.pathname + u.search, headers: { ...NAVIGATION, cookie: cookieHeader(jar) } });
}

/** A callback that must succeed: a denied 302 whose Set-Cookie lines are merged into `jar`. */
export async function finishLogin(door: GrpcDoor, callbackUrl: string, jar: CookieJar): Promise<DeniedResponse> {
  const done = expectDenied(await callbackCheck(door, callbackUrl, jar), 302);
  mergeSetCookie(jar, headersOf(done.headers, 'set-cookie'));
  return done;
}

/** Signs a user in at the IdP for an authorization URL; resolves with the URL the IdP sends the browser back to. */
export type SignIn = (authorizeUrl: string) => Promise<{ readonly url: string }>;

/** The whole login for a navigation to the page `path` (one provider); returns the jar holding the session cookie `JWT`. */
export async function loginThroughGrpcDoor(door: GrpcDoor, path: string, signIn: SignIn): Promise<CookieJar> {
  const { authorizeUrl, jar } = await beginLoginAtPage(door, path);
  const handoff = await signIn(authorizeUrl.toString());
  await finishLogin(door, handoff.url, jar);
  assert.ok(jar.get('JWT'), 'logged in');
  return jar;
}
