/**
 * The `Authorization: Basic` header (RFC 7617): scheme case-insensitive,
 * strict base64, strict UTF-8, a user name that cannot hold ':'. Anything
 * else that says Basic is malformed; another scheme is not ours.
 */
import { Buffer } from 'node:buffer';

/** Longest Authorization header looked at; real Basic credentials are far shorter. */
export const MAX_BASIC_HEADER_LENGTH = 4096;

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const UTF8 = new TextDecoder('utf-8', { fatal: true });

export type Credentials = { readonly username: string; readonly password: string };

/**
 * Extracts Basic credentials: `undefined` when the header is absent or uses
 * another scheme, `null` when it is Basic but malformed.
 */
export function parseBasicHeader(header: string | undefined): Credentials | null | undefined {
  if (header === undefined) return undefined;
  const trimmed = header.trimStart();
  const space = trimmed.search(/[ \t]/);
  const scheme = space === -1 ? trimmed : trimmed.slice(0, space);
  if (scheme.toLowerCase() !== 'basic') return undefined;
  if (header.length > MAX_BASIC_HEADER_LENGTH || space === -1) return null;
  const encoded = trimmed.slice(space + 1).trim();
  if (!BASE64.test(encoded)) return null;
  let decoded: string;
  try {
    decoded = UTF8.decode(Buffer.from(encoded, 'base64'));
  } catch {
    return null;
  }
  const colon = decoded.indexOf(':');
  if (colon <= 0) return null;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}
