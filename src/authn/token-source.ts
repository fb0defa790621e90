/**
 * Where bearer tokens are read from (`from:` of each issuer): a header with a
 * scheme prefix (`authorization: Bearer …`) or a cookie. Sources are compiled
 * once per config; the request path walks a short, de-duplicated list.
 */
import type { AuthRequest } from '../core/auth-request.js';
import type { TokenSource } from '../config/types.js';

export interface CompiledTokenSource {
  /** Stable identity of the source (`header:authorization:bearer ` / `cookie:id_token`). */
  readonly id: string;
  /** Index in the compiled list; part of the token-cache key. */
  readonly index: number;
  readonly kind: 'header' | 'cookie';
  /** Lower-case header name, or the cookie name as written. */
  readonly name: string;
  /** Lower-case prefix for headers ('' = the whole value is the token). */
  readonly prefix: string;
}

export interface FoundToken {
  readonly source: CompiledTokenSource;
  /** The token text; '' when the header named the scheme but carried no token. */
  readonly token: string;
}

export function sourceId(source: TokenSource): string {
  return 'cookie' in source ? `cookie:${source.cookie}` : `header:${source.header.toLowerCase()}:${source.prefix.toLowerCase()}`;
}

/** De-duplicates sources (several issuers commonly share `authorization: Bearer`), keeping first-seen order. */
export function compileTokenSources(sources: Iterable<TokenSource>): CompiledTokenSource[] {
  const compiled: CompiledTokenSource[] = [];
  const seen = new Set<string>();
  for (const source of sources) {
    const id = sourceId(source);
    if (seen.has(id)) continue;
    seen.add(id);
    compiled.push('cookie' in source
      ? { id, index: compiled.length, kind: 'cookie', name: source.cookie, prefix: '' }
      : { id, index: compiled.length, kind: 'header', name: source.header.toLowerCase(), prefix: source.prefix.toLowerCase() });
  }
  return compiled;
}

/**
 * The token in one source, or undefined when the source does not carry one
 * (absent header, another scheme such as `Basic …`, empty cookie) — then the
 * next source, and after them the next authenticator, gets its turn.
 */
export function readTokenFrom(req: AuthRequest, source: CompiledTokenSource): string | undefined {
  if (source.kind === 'cookie') {
    const value = req.cookies.get(source.name);
    return value ? value : undefined;
  }
  const value = req.headers[source.name];
  if (value === undefined) return undefined;
  if (source.prefix === '') {
    const whole = value.trim();
    return whole === '' ? undefined : whole;
  }
  // Scheme names are case-insensitive (RFC 9110 §11.1): compare the prefix lower-cased.
  if (value.length >= source.prefix.length && value.slice(0, source.prefix.length).toLowerCase() === source.prefix) {
    return value.slice(source.prefix.length).trim();
  }
  // `Bearer` alone: the scheme is ours, the token is missing (a bad credential, not an absent one).
  if (value.trim().toLowerCase() === source.prefix.trim()) return '';
  return undefined;
}

/** The first source, in order, that carries a token. */
export function findToken(req: AuthRequest, sources: readonly CompiledTokenSource[]): FoundToken | undefined {
  for (const source of sources) {
    const token = readTokenFrom(req, source);
    if (token !== undefined) return { source, token };
  }
  return undefined;
}
