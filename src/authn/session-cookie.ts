/**
 * The session cookie: a signed (HS256, HKDF-derived key) JWT recording who
 * logged in, through which provider, until when.
 *
 * Size (browsers keep 4096 bytes per cookie, attributes included): groups are
 * what grows, so
 * 1. a long group list is stored deflate-compressed (`gz`); real group names
 *    share long prefixes and compress several-fold;
 * 2. if the signed token still does not fit one Set-Cookie line of
 *    MAX_SET_COOKIE_BYTES, it is split into `<name>_1.._N` with N in the main
 *    cookie, N ≤ MAX_CHUNKS; chunks a former, longer session left behind are
 *    expired, so they never pile up.
 * Keeping groups out of the cookie altogether would need a server-side store
 * on every replica (authz.sessions.store: redis); the cookie store must work
 * alone. Our cookies never reach the upstream (header-policy.ts strips them).
 */
import { randomBytes } from 'node:crypto';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { SignJWT, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import type { HeaderPair } from '../core/decision.js';
import { expireCookie, MAX_SET_COOKIE_BYTES, setCookie, type CookieScope } from './session-set-cookie.js';

export interface SessionRecord {
  /** Random id of this login; single-flight refresh and refresh-cookie binding use it. */
  readonly sid: string;
  /** `clients.<name>` of the OIDC login; '' for a login with the Basic form. */
  readonly provider: string;
  readonly subject: string;
  readonly name: string;
  readonly email?: string;
  readonly issuer?: string;
  /** Groups at login/refresh time (OIDC sessions; Basic sessions read the users store). */
  readonly groups: readonly string[];
  /** Absolute end of the session, epoch seconds (login + cookie-max-age; a refresh does not extend it). */
  readonly expiresAt: number;
  /** When the IdP's tokens expire and a refresh is due, epoch seconds (only with a refresh cookie). */
  readonly refreshAt?: number;
  /** Password-form sessions: the stamp of the user's password at login (credential-stamp.ts). */
  readonly credential?: string;
  /** OIDC sessions: the IdP's session id (`sid` of the ID token), which front- and back-channel logout name. */
  readonly idpSid?: string;
  /** OIDC sessions: the claims (names) that came from the userinfo response, not the ID token. */
  readonly userinfoClaims?: readonly string[];
}

export type SessionRead =
  | { readonly kind: 'absent' }
  | { readonly kind: 'invalid' }
  | { readonly kind: 'expired'; readonly record: SessionRecord }
  | { readonly kind: 'ok'; readonly record: SessionRecord };

/** Thrown by write() when even chunked the session does not fit; the caller refuses the login. */
export class SessionTooLargeError extends Error {
  readonly code = 'ERR_SESSION_TOO_LARGE' as const;
  constructor() {
    super('the session (mostly its groups) does not fit the cookie budget even compressed and chunked');
    this.name = 'SessionTooLargeError';
  }
}

/** At most this many chunk cookies: 8 × ~4 KB is already more than many proxies accept in one Cookie header. */
export const MAX_CHUNKS = 8;
const COMPRESS_GROUPS_OVER = 512; // bytes of JSON
const MAX_INFLATED = 1 << 20;
const ISSUER = 'kestra-authz';
/** Replicas' clocks may differ this much; a cookie issued later than now + this is refused. */
const ISSUED_AT_SKEW_SECONDS = 60;
const AUDIENCE = 'kestra-authz/session';

export function newSessionId(): string {
  return randomBytes(16).toString('base64url');
}

export interface SessionCookies {
  readonly name: string;
  /** Set-Cookie lines for `record` (one cookie or chunks), expiring stale chunks the request carried. */
  write(record: SessionRecord, scope: CookieScope, maxAgeSeconds: number, requestCookies: ReadonlyMap<string, string>): Promise<HeaderPair[]>;
  read(cookies: ReadonlyMap<string, string>, nowSeconds: number): Promise<SessionRead>;
  /** Set-Cookie lines removing the session cookie and every chunk the request carried. */
  clear(scope: CookieScope, requestCookies: ReadonlyMap<string, string>): HeaderPair[];
}

export function createSessionCookies(name: string, key: Uint8Array): SessionCookies {
  const chunkName = (i: number) => `${name}_${i}`;
  const chunkPattern = new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}_(\\d{1,3})$`);

  const staleChunks = (requestCookies: ReadonlyMap<string, string>, keep: number, scope: CookieScope): HeaderPair[] => {
    const out: HeaderPair[] = [];
    for (const cookieName of requestCookies.keys()) {
      const m = chunkPattern.exec(cookieName);
      if (m && Number(m[1]) > keep) out.push(expireCookie(cookieName, scope));
    }
    return out;
  };

  return {
    name,
    async write(record, scope, maxAgeSeconds, requestCookies) {
      const token = await sign(record, key);
      const single = setCookie(name, token, scope, maxAgeSeconds);
      if (Buffer.byteLength(single[1]) <= MAX_SET_COOKIE_BYTES) return [single, ...staleChunks(requestCookies, 0, scope)];
      const overhead = Buffer.byteLength(setCookie(chunkName(MAX_CHUNKS), '', scope, maxAgeSeconds)[1]);
      const size = MAX_SET_COOKIE_BYTES - overhead;
      const count = Math.ceil(token.length / size);
      if (count > MAX_CHUNKS) throw new SessionTooLargeError();
      const out: HeaderPair[] = [setCookie(name, String(count), scope, maxAgeSeconds)];
      for (let i = 0; i < count; i++) out.push(setCookie(chunkName(i + 1), token.slice(i * size, (i + 1) * size), scope, maxAgeSeconds));
      return [...out, ...staleChunks(requestCookies, count, scope)];
    },
    async read(cookies, nowSeconds) {
      const main = cookies.get(name);
      if (main === undefined || main === '') return { kind: 'absent' };
      let token = main;
      if (/^[1-9]$/.test(main)) {
        const count = Number(main);
        if (count > MAX_CHUNKS) return { kind: 'invalid' };
        const parts: string[] = [];
        for (let i = 1; i <= count; i++) {
          const part = cookies.get(chunkName(i));
          if (!part) return { kind: 'invalid' };
          parts.push(part);
        }
        token = parts.join('');
      }
      return verify(token, key, nowSeconds);
    },
    clear(scope, requestCookies) {
      return [expireCookie(name, scope), ...staleChunks(requestCookies, 0, scope)];
    },
  };
}

async function sign(record: SessionRecord, key: Uint8Array): Promise<string> {
  const claims: JWTPayload & Record<string, unknown> = { sid: record.sid, p: record.provider, nm: record.name };
  if (record.email) claims.em = record.email;
  if (record.issuer) claims.oi = record.issuer;
  if (record.refreshAt !== undefined) claims.rat = record.refreshAt;
  if (record.credential) claims.cs = record.credential;
  if (record.idpSid) claims.isd = record.idpSid;
  if (record.userinfoClaims?.length) claims.ui = record.userinfoClaims;
  if (record.groups.length) {
    const json = JSON.stringify(record.groups);
    if (json.length > COMPRESS_GROUPS_OVER) claims.gz = deflateRawSync(Buffer.from(json, 'utf8'), { level: 9 }).toString('base64url');
    else claims.g = record.groups;
  }
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setSubject(record.subject)
    .setIssuedAt()
    .setExpirationTime(record.expiresAt)
    .sign(key);
}

async function verify(token: string, key: Uint8Array, nowSeconds: number): Promise<SessionRead> {
  try {
    const { payload } = await jwtVerify(token, key, {
      algorithms: ['HS256'],
      issuer: ISSUER,
      audience: AUDIENCE,
      currentDate: new Date(nowSeconds * 1000),
      clockTolerance: 0,
    });
    // jose does not check that `iat` is past; we always set it, so one far ahead is not a cookie we issued with this clock.
    if (typeof payload.iat !== 'number' || payload.iat > nowSeconds + ISSUED_AT_SKEW_SECONDS) return { kind: 'invalid' };
    const record = recordFrom(payload);
    return record ? { kind: 'ok', record } : { kind: 'invalid' };
  } catch (err) {
    // Signature and claims were checked before the expiry: an expired session is still ours (logout reads its provider).
    if (err instanceof joseErrors.JWTExpired) {
      const record = recordFrom(err.payload);
      return record ? { kind: 'expired', record } : { kind: 'invalid' };
    }
    return { kind: 'invalid' };
  }
}

/** Our own signed payload, but every field is still type-checked: a bug must not become a wrong identity. */
function recordFrom(p: JWTPayload): SessionRecord | undefined {
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const sid = str(p.sid);
  const provider = str(p.p);
  const subject = str(p.sub);
  const name = str(p.nm);
  if (!sid || provider === undefined || !subject || !name || typeof p.exp !== 'number') return undefined;
  let groups: unknown = p.g ?? [];
  if (typeof p.gz === 'string') {
    try {
      groups = JSON.parse(inflateRawSync(Buffer.from(p.gz, 'base64url'), { maxOutputLength: MAX_INFLATED }).toString('utf8'));
    } catch {
      return undefined;
    }
  }
  if (!Array.isArray(groups) || !groups.every((g) => typeof g === 'string')) return undefined;
  return {
    sid,
    provider,
    subject,
    name,
    email: str(p.em),
    issuer: str(p.oi),
    groups: Object.freeze(groups as string[]),
    expiresAt: p.exp,
    refreshAt: typeof p.rat === 'number' ? p.rat : undefined,
    ...(typeof p.cs === 'string' ? { credential: p.cs } : {}),
    ...(typeof p.isd === 'string' && p.isd !== '' ? { idpSid: p.isd } : {}),
    ...(Array.isArray(p.ui) && p.ui.length && p.ui.every((c) => typeof c === 'string') ? { userinfoClaims: Object.freeze([...(p.ui as string[])]) } : {}),
  };
}
