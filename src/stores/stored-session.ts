/**
 * What the Redis session store keeps per session, and how it is kept:
 * encrypted at rest with JWE `dir` + A256GCM (an AEAD) under a key derived
 * (HKDF-SHA256) from the session secret, so a Redis dump or a snooped
 * replication stream reveals neither identities nor the IdP's tokens. The
 * session id is inside the ciphertext and checked on open: a value copied
 * under another key in Redis is refused.
 */
import { hkdfSync } from 'node:crypto';
import { CompactEncrypt, compactDecrypt, decodeJwt } from 'jose';
import type { SessionRecord } from '../authn/session-cookie.js';

export interface StoredSession {
  readonly record: SessionRecord;
  readonly refreshToken?: string;
  /** The last ID token, for `id_token_hint` at logout. */
  readonly idToken?: string;
  /** The IdP's `sid` claim of the ID token: back-channel logout finds sessions by it. */
  readonly idpSid?: string;
}

export interface StoredSessionKeys {
  /** A256GCM key sealing stored sessions. */
  readonly seal: Uint8Array;
  /** HMAC-SHA256 key signing the session id in the cookie. */
  readonly cookie: Uint8Array;
}

const SALT = 'kestra-authz/redis-sessions';
const PURPOSE = 'kestra-authz/redis-session';
/** A stored session larger than this is refused on open (groups are the only unbounded part). */
const MAX_SEALED_LENGTH = 1 << 20;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function deriveStoredSessionKeys(sessionSecret: Uint8Array): StoredSessionKeys {
  return Object.freeze({
    seal: new Uint8Array(hkdfSync('sha256', sessionSecret, SALT, 'stored-session v1 A256GCM', 32)),
    cookie: new Uint8Array(hkdfSync('sha256', sessionSecret, SALT, 'session-id-cookie v1 HS256', 32)),
  });
}

/** The `sid` claim of an ID token the IdP sent us (already verified by openid-client when it arrived). */
export function idpSidOf(idToken: string | undefined): string | undefined {
  if (!idToken) return undefined;
  try {
    const sid = decodeJwt(idToken).sid;
    return typeof sid === 'string' && sid !== '' ? sid : undefined;
  } catch {
    return undefined;
  }
}

export async function sealStoredSession(key: Uint8Array, id: string, session: StoredSession): Promise<string> {
  const r = session.record;
  const doc = {
    id,
    r: { sid: r.sid, p: r.provider, sub: r.subject, nm: r.name, em: r.email, oi: r.issuer, g: r.groups, exp: r.expiresAt, rat: r.refreshAt, cs: r.credential, ui: r.userinfoClaims },
    rt: session.refreshToken,
    it: session.idToken,
    is: session.idpSid,
  };
  return new CompactEncrypt(encoder.encode(JSON.stringify(doc)))
    .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', cty: PURPOSE })
    .encrypt(key);
}

/** The session, or undefined when the value is garbled, sealed under another key, or stored under another id. */
export async function openStoredSession(key: Uint8Array, id: string, sealed: string): Promise<StoredSession | undefined> {
  if (sealed.length > MAX_SEALED_LENGTH) return undefined;
  let doc: unknown;
  try {
    const { plaintext, protectedHeader } = await compactDecrypt(sealed, key, {
      keyManagementAlgorithms: ['dir'],
      contentEncryptionAlgorithms: ['A256GCM'],
    });
    if (protectedHeader.cty !== PURPOSE) return undefined;
    doc = JSON.parse(decoder.decode(plaintext));
  } catch {
    return undefined;
  }
  if (!isObject(doc) || doc.id !== id || !isObject(doc.r)) return undefined;
  const record = recordOf(doc.r);
  if (!record) return undefined;
  return {
    record,
    refreshToken: optionalString(doc.rt),
    idToken: optionalString(doc.it),
    idpSid: optionalString(doc.is),
  };
}

function recordOf(r: Record<string, unknown>): SessionRecord | undefined {
  const { sid, p, sub, nm, g, exp, rat } = r;
  if (typeof sid !== 'string' || sid === '' || typeof p !== 'string' || typeof sub !== 'string' || sub === '') return undefined;
  if (typeof nm !== 'string' || nm === '' || typeof exp !== 'number') return undefined;
  if (!Array.isArray(g) || !g.every((x) => typeof x === 'string')) return undefined;
  if (rat !== undefined && typeof rat !== 'number') return undefined;
  return {
    sid,
    provider: p,
    subject: sub,
    name: nm,
    email: optionalString(r.em),
    issuer: optionalString(r.oi),
    groups: Object.freeze([...(g as string[])]),
    expiresAt: exp,
    refreshAt: rat as number | undefined,
    ...(optionalString(r.cs) !== undefined ? { credential: r.cs as string } : {}),
    ...(Array.isArray(r.ui) && r.ui.length && r.ui.every((c) => typeof c === 'string') ? { userinfoClaims: Object.freeze([...(r.ui as string[])]) } : {}),
  };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function optionalString(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}
