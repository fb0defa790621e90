/**
 * The credentials the fuzzer starts from, and the oracle of property (c).
 *
 * Valid: Bearer JWTs from the trusted issuer (RS256 and ES256, one with a
 * Unicode name, one whose name and groups carry CR/LF), the Basic users of the
 * users file, and session cookies signed with the config's own session key
 * (a password-form session, an OIDC session, a chunked OIDC session).
 * Invalid but "real": tokens that are expired, not yet valid, for another
 * audience or issuer, under an unpublished kid, forged with another key under
 * the trusted kid, `alg: none`, HS256; sessions expired, forged, of an unknown
 * provider or user, or due a refresh they cannot get.
 *
 * The oracle decides "is this allow explained by a valid credential present
 * in the request?" independently of the product's parsers (its own, more
 * lenient, reading of the Authorization and Cookie headers), and compares
 * JWTs by meaning: the signed text must be identical, the signature the same
 * bytes (base64url's unused trailing bits do not count as a different token).
 */
import assert from 'node:assert/strict';
import { randomBytes, scrypt } from 'node:crypto';
import { SignJWT } from 'jose';
import { credentialStamp } from '../../src/authn/credential-stamp.js';
import { createSessionCookies, newSessionId, type SessionRecord } from '../../src/authn/session-cookie.js';
import { deriveSessionKeys } from '../../src/authn/session-keys.js';
import type { Config } from '../../src/config/types.js';
import type { TokenIssuer } from '../helpers/token-issuer.js';

export interface FuzzUser {
  readonly username: string;
  readonly password: string;
  readonly groups: readonly string[];
  readonly tenant?: string;
}

export const FUZZ_USERS: readonly FuzzUser[] = [
  { username: 'fuzz-user', password: 'correct horse battery staple', groups: ['kestra-devs'] },
  { username: 'tenant-user', password: 'tenant-pass-1', groups: ['kestra-devs'], tenant: 'acme' },
];

export interface ValidToken { readonly token: string; readonly subject: string; readonly name: string }
export interface ValidSession {
  /** Cookie header fragment as a browser sends it (`JWT=…`, or `JWT=3; JWT_1=…; …`). */
  readonly cookie: string;
  /** The whole signed session token (chunks joined). */
  readonly token: string;
  readonly subject: string;
  readonly name: string;
}

export interface KnownCredentials {
  readonly validTokens: readonly ValidToken[];
  readonly invalidTokens: readonly string[];
  readonly validBasic: readonly FuzzUser[];
  /** user:password pairs that must fail (wrong password, unknown user, other user's password). */
  readonly invalidBasic: readonly (readonly [string, string])[];
  readonly validSessions: readonly ValidSession[];
  /**
   * A valid password-form session the arbitraries never send: a fuzzed
   * `POST /logout` carrying one of `validSessions` really ends it, so a
   * test that needs a session still alive after the fuzz runs uses this one.
   */
  readonly spareSession: ValidSession;
  /** Cookie header fragments of sessions that must fail. */
  readonly invalidSessions: readonly string[];
}

/** A users-file hash with the smallest scrypt cost the store accepts (N=2^10): a wrong password costs ~1 ms, not ~80. */
export async function cheapPasswordHash(password: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await new Promise<Buffer>((resolve, reject) =>
    scrypt(password, salt, 32, { N: 1024, r: 8, p: 1 }, (err, key) => (err ? reject(err) : resolve(key))));
  return `scrypt$1024$8$1$${salt.toString('base64url')}$${hash.toString('base64url')}`;
}

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

interface MintInit {
  readonly config: Config;
  readonly issuer: TokenIssuer;
  readonly forger: TokenIssuer;
  readonly provider: string;
  /** The stored password hash of each FUZZ_USERS user: a password-form session carries its stamp. */
  readonly passwordHashes: ReadonlyMap<string, string>;
}

export async function mintCredentials(init: MintInit): Promise<KnownCredentials> {
  const { config, issuer, forger, provider } = init;
  await issuer.addKey('k1', { alg: 'RS256' });
  await issuer.addKey('k2', { alg: 'ES256' });
  await issuer.addKey('ghost', { alg: 'RS256', publish: false });
  await forger.addKey('k1', { alg: 'RS256' });
  const now = Math.floor(Date.now() / 1000);
  const day = now + 24 * 3600;
  const dev = { sub: 'user-dev', aud: 'kestra', preferred_username: 'dev', groups: ['kestra-devs'] };

  const validTokens: ValidToken[] = [
    { token: await issuer.mint(dev, { kid: 'k1', expiresIn: day }), subject: dev.sub, name: 'dev' },
    { token: await issuer.mint({ sub: 'user-plain', aud: 'kestra', preferred_username: 'plain' }, { kid: 'k2', expiresIn: day }), subject: 'user-plain', name: 'plain' },
    {
      token: await issuer.mint({ sub: 'user-zoe', aud: ['kestra', 'other'], preferred_username: 'Zoë 李 🎉', email: 'zoe@example.com', groups: ['kestra-devs', 'équipe'] }, { kid: 'k1', expiresIn: day }),
      subject: 'user-zoe',
      name: 'Zoë 李 🎉',
    },
    {
      token: await issuer.mint({ sub: 'user-evil', aud: 'kestra', preferred_username: 'evil\r\nx-injected: 1', groups: ['a\r\nb', 'kestra-devs'] }, { kid: 'k1', expiresIn: day }),
      subject: 'user-evil',
      name: 'evil\r\nx-injected: 1',
    },
  ];
  const hs256 = await new SignJWT({ ...dev, iss: issuer.issuer }).setProtectedHeader({ alg: 'HS256', kid: 'k1' })
    .setExpirationTime(day).sign(randomBytes(32));
  const invalidTokens = [
    await issuer.mint(dev, { kid: 'k1', expiresIn: now - 3600 }),
    await issuer.mint({ ...dev, nbf: now + 3600 }, { kid: 'k1', expiresIn: day }),
    await issuer.mint({ ...dev, aud: 'another-api' }, { kid: 'k1', expiresIn: day }),
    await issuer.mint({ sub: dev.sub, groups: dev.groups }, { kid: 'k2', expiresIn: day }),
    await issuer.mint({ ...dev, iss: 'https://evil.example.com' }, { kid: 'k1', expiresIn: day }),
    await issuer.mint(dev, { kid: 'ghost', expiresIn: day }),
    await forger.mint({ ...dev, iss: issuer.issuer }, { kid: 'k1', expiresIn: day }),
    `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ ...dev, iss: issuer.issuer, exp: day })}.`,
    hs256,
  ];

  const keys = deriveSessionKeys(config.secrets);
  const sessions = createSessionCookies(config.cookie.name, keys.session);
  const foreign = createSessionCookies(config.cookie.name, randomBytes(32));
  const scope = { path: '/', secure: true, sameSite: 'lax' as const };
  const record = (over: Partial<SessionRecord>): SessionRecord => ({
    sid: newSessionId(), provider, subject: 'oidc-sub-1', name: 'oidc.user', issuer: issuer.issuer, groups: ['kestra-devs'], expiresAt: day, ...over,
  });
  const passwordFormRecord = (username: string): SessionRecord => {
    const passwordHash = init.passwordHashes.get(username);
    assert.ok(passwordHash, `a stored hash for ${username}`);
    const credential = credentialStamp({ username, passwordHash, admin: false, groups: [] });
    return record({ provider: '', subject: username, name: username, groups: [], issuer: undefined, credential });
  };
  const cookieOf = async (codec: typeof sessions, r: SessionRecord) => {
    const lines = await codec.write(r, scope, 3600, new Map());
    const pairs = lines.map(([, line]) => line.slice(0, line.indexOf(';')));
    const values = pairs.map((p) => p.slice(p.indexOf('=') + 1));
    return { cookie: pairs.join('; '), token: values.length > 1 ? values.slice(1).join('') : values[0]! };
  };
  const manyGroups = ['kestra-devs', ...Array.from({ length: 300 }, () => randomBytes(18).toString('hex'))];
  const validSessions: ValidSession[] = [
    { ...(await cookieOf(sessions, passwordFormRecord('fuzz-user'))), subject: 'fuzz-user', name: 'fuzz-user' },
    { ...(await cookieOf(sessions, record({}))), subject: 'oidc-sub-1', name: 'oidc.user' },
    { ...(await cookieOf(sessions, record({ subject: 'oidc-sub-2', groups: manyGroups }))), subject: 'oidc-sub-2', name: 'oidc.user' },
  ];
  const invalidSessions = [
    (await cookieOf(sessions, record({ expiresAt: now - 60 }))).cookie,
    (await cookieOf(foreign, record({}))).cookie,
    (await cookieOf(sessions, record({ provider: 'gone' }))).cookie,
    (await cookieOf(sessions, record({ provider: '', subject: 'ghost', name: 'ghost', issuer: undefined }))).cookie,
    // A password-form session from before a password change (another stamp).
    (await cookieOf(sessions, { ...passwordFormRecord('fuzz-user'), credential: 'stamp-of-an-older-password' })).cookie,
    (await cookieOf(sessions, record({ refreshAt: now - 10 }))).cookie,
  ];

  return {
    validTokens,
    invalidTokens,
    validBasic: FUZZ_USERS,
    invalidBasic: [
      ['fuzz-user', 'correct horse battery stapl'],
      ['fuzz-user', 'tenant-pass-1'],
      ['tenant-user', 'correct horse battery staple'],
      ['Fuzz-user', 'correct horse battery staple'],
      ['fuzz-user ', 'correct horse battery staple'],
    ],
    validSessions,
    spareSession: { ...(await cookieOf(sessions, passwordFormRecord('fuzz-user'))), subject: 'fuzz-user', name: 'fuzz-user' },
    invalidSessions,
  };
}

/** Same JWT by meaning: identical signed text, signature decoding to the same bytes. */
export function sameJwt(candidate: string, valid: string): boolean {
  if (candidate === valid) return true;
  const c = candidate.split('.');
  const v = valid.split('.');
  if (c.length !== 3 || c[0] !== v[0] || c[1] !== v[1]) return false;
  return Buffer.from(c[2]!, 'base64url').equals(Buffer.from(v[2]!, 'base64url'));
}

/** Every value of cookie `name` in a Cookie header (the oracle's own, lenient reading). */
function cookieValues(header: string | undefined, name: string): string[] {
  if (!header) return [];
  const out: string[] = [];
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1 || part.slice(0, eq).trim() !== name) continue;
    let value = part.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    out.push(value);
  }
  return out;
}

/** Session tokens a Cookie header could carry: each `JWT` value, and the chunks it names joined. */
function sessionTokensIn(header: string | undefined, name: string): string[] {
  const out: string[] = [];
  for (const main of cookieValues(header, name)) {
    out.push(main);
    if (/^[1-9]$/.test(main)) {
      const parts = Array.from({ length: Number(main) }, (_, i) => cookieValues(header, `${name}_${i + 1}`)[0] ?? '');
      out.push(parts.join(''));
    }
  }
  return out;
}

/** Who an allow names: the Decision's identity (subject known), or a CheckResponse's metadata (`via`, `user` = name). */
export interface AllowedWho {
  readonly via: string;
  readonly subject?: string;
  readonly name?: string;
}

const isWho = (who: AllowedWho, cred: { subject: string; name: string }) =>
  who.subject !== undefined ? who.subject === cred.subject : who.name === cred.name;

/** Every valid session the oracle knows: the fuzzed ones and the spare one. */
function sessionsOf(creds: KnownCredentials): readonly ValidSession[] {
  return [...creds.validSessions, creds.spareSession];
}

/**
 * Undefined when the allow of `who` is explained by an unmutated valid
 * credential in `headers` (lower-case keys); otherwise why not.
 */
export function unexplainedAllow(creds: KnownCredentials, cookieName: string, who: AllowedWho | undefined, headers: Readonly<Record<string, string>>): string | undefined {
  if (!who) return 'allow without an identity (no route is public)';
  const authorization = headers.authorization ?? '';
  if (who.via === 'bearer') {
    const candidates = [authorization.replace(/^\s*bearer\s*/i, '').trim(), ...cookieValues(headers.cookie, 'id_token')];
    const ok = creds.validTokens.some((v) => isWho(who, v) && candidates.some((c) => sameJwt(c, v.token)));
    return ok ? undefined : `bearer allow for ${who.subject ?? who.name} without its valid token`;
  }
  if (who.via === 'basic') {
    const m = /^\s*basic\s+(\S*)\s*$/i.exec(authorization);
    const decoded = m ? Buffer.from(m[1]!, 'base64').toString('utf8') : undefined;
    const ok = creds.validBasic.some((u) => isWho(who, { subject: u.username, name: u.username }) && decoded === `${u.username}:${u.password}`);
    return ok ? undefined : `basic allow for ${who.subject ?? who.name} without its password`;
  }
  if (who.via === 'session') {
    const tokens = sessionTokensIn(headers.cookie, cookieName);
    const ok = sessionsOf(creds).some((s) => isWho(who, s) && tokens.some((t) => sameJwt(t, s.token)));
    return ok ? undefined : `session allow for ${who.subject ?? who.name} without its session cookie`;
  }
  return `allow via unknown authenticator ${JSON.stringify(who.via)}`;
}

/**
 * For an allowed frame protobuf itself cannot decode (the door's reader skips
 * fields it does not use, so damage there goes unnoticed): undefined when the
 * allowed identity's valid credential is present, byte for byte, in the frame.
 */
export function unexplainedAllowInBytes(creds: KnownCredentials, who: AllowedWho | undefined, frame: Uint8Array): string | undefined {
  if (!who) return 'allow without an identity';
  const text = Buffer.from(frame).toString('latin1');
  if (who.via === 'bearer') {
    return creds.validTokens.some((v) => isWho(who, v) && text.includes(v.token)) ? undefined : `bearer allow for ${who.name} with no valid token in the frame`;
  }
  if (who.via === 'basic') {
    const present = creds.validBasic.some((u) => isWho(who, { subject: u.username, name: u.username }) &&
      text.includes(Buffer.from(`${u.username}:${u.password}`).toString('base64')));
    return present ? undefined : `basic allow for ${who.name} with no valid password in the frame`;
  }
  if (who.via === 'session') {
    const present = sessionsOf(creds).some((s) => isWho(who, s) &&
      s.cookie.split('; ').every((pair) => text.includes(pair.slice(pair.indexOf('=') + 1))));
    return present ? undefined : `session allow for ${who.name} with no valid session cookie in the frame`;
  }
  return `allow via unknown authenticator ${JSON.stringify(who.via)}`;
}
