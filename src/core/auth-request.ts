/**
 * AuthRequest: the plain-data question every door asks the core.
 *
 * Doors (gRPC Check, HTTP ext_authz, forward-auth) translate their wire format
 * into this shape; nothing here knows about a transport.
 */
import { forEachCookie, unquotedCookieValue } from './cookie-header.js';

export interface AuthRequest {
  /** Request id for logs and JSON error bodies (x-request-id, else the door's own id). */
  readonly id: string;
  /** Upper-case HTTP method. */
  readonly method: string;
  /** 'http' or 'https' as the client used it. */
  readonly scheme: string;
  /** Host as the client sent it (`:authority`), lower-case, port kept. */
  readonly host: string;
  /** Normalized path the route rules decide on (see normalizePath). No query string. */
  readonly path: string;
  /** Query string without the leading '?', '' when absent. */
  readonly query: string;
  /** Request headers, keys lower-case; repeated headers joined with ',' as Envoy does. */
  readonly headers: Readonly<Record<string, string>>;
  /** Cookies parsed from the `cookie` header; first occurrence of a name wins. */
  readonly cookies: ReadonlyMap<string, string>;
  /** Client address (no port), '' when the door does not know it. */
  readonly sourceAddress: string;
  /**
   * Request body when the door has it (the HTTP door for our own POST
   * endpoints; Envoy only with `with_request_body`), '' otherwise. Bounded
   * by the door (MAX_BODY_BYTES).
   */
  readonly body: string;
}

/** Doors never hand the core more body than this (form_post callbacks, login forms). */
export const MAX_BODY_BYTES = 64 * 1024;

export interface AuthRequestInit {
  id?: string;
  method: string;
  scheme?: string;
  host?: string;
  /** Path as received, may include a query string (Envoy puts it there). */
  path: string;
  headers?: Record<string, string>;
  sourceAddress?: string;
  body?: string;
}

const MAX_COOKIES = 200;

/** The cookies of a request without a Cookie header (read-only: AuthRequest.cookies is a ReadonlyMap). */
const NO_COOKIES: ReadonlyMap<string, string> = new Map<string, string>();

/** Keeps the first value of each name (first occurrence wins, as in Kestra's Netty decoder). */
function keepFirst(cookies: Map<string, string>, name: string, value: string | undefined): boolean {
  if (value !== undefined && name && !cookies.has(name)) cookies.set(name, unquotedCookieValue(value));
  return true;
}

/**
 * Parses a Cookie header with the one cookie reader (cookie-header.ts) the
 * upstream rewrite uses too. Bounded: at most MAX_COOKIES pairs are looked at.
 */
export function parseCookieHeader(header: string | undefined): Map<string, string> {
  const cookies = new Map<string, string>();
  return header ? forEachCookie(header, MAX_COOKIES, cookies, keepFirst) : cookies;
}

/**
 * Normalizes a request path the way upstreams (Kestra/Micronaut, nginx,
 * Envoy with `normalize_path` + `merge_slashes`) resolve it, so a rule
 * decides on the same resource the upstream will serve:
 * - percent-decoding of unreserved characters only (`%2e` → `.`, `%41` → `A`);
 *   an encoded slash `%2F` or backslash `%5C` stays encoded and so can never
 *   split a segment;
 * - repeated slashes merged;
 * - `.` and `..` segments resolved (never above the root).
 * Returns null (the door answers 400) when the path is not an absolute path,
 * carries a NUL or a control character, or hides a dot segment that another
 * parser could resolve and we would not (see HIDDEN_DOT_SEGMENT).
 */
export function normalizePath(rawPath: string): string | null {
  if (!rawPath.startsWith('/')) return null;
  // One scan decides whether the slow checks run; plain paths skip them.
  const unusual = UNUSUAL.test(rawPath);
  if (unusual && CONTROL.test(rawPath)) return null;
  const resolved = resolvePath(rawPath);
  return unusual && HIDDEN_DOT_SEGMENT.test(resolved) ? null : resolved;
}

/** Characters after which a path needs the slow checks: controls, escapes, backslashes, path parameters. */
// eslint-disable-next-line no-control-regex
const UNUSUAL = /[\x00-\x1f\x7f%\\;]/;
/** No HTTP client sends these in a path (Envoy and Node reject them raw); `%00` ends strings in some upstreams. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x1f\x7f]|%00/;
/**
 * A `.`/`..` segment that survives our resolution but not another parser's:
 * behind an encoded slash or backslash (`..%2F`, `%5C..`: an upstream that
 * decodes them resolves it), a literal backslash (`..\`: Envoy's
 * normalize_path and Windows read it as `/`), or a path parameter (`..;x`:
 * Tomcat/Jetty strip `;…`). No real route has one; refusing is safer than
 * guessing which reading the upstream takes. Checked on the resolved path,
 * where every plain dot segment is already gone.
 */
const HIDDEN_DOT_SEGMENT = /(?:\/|%2F|%5C|\\)\.\.?(?=$|\/|%2F|%5C|\\|;)/;

/** Unreserved characters decoded, dot segments resolved, slashes merged. */
function resolvePath(rawPath: string): string {
  let decoded: string;
  if (rawPath.includes('%')) {
    decoded = rawPath.replace(/%([0-9a-fA-F]{2})/g, (whole, hex: string) => {
      const code = Number.parseInt(hex, 16);
      const isUnreserved =
        (code >= 0x30 && code <= 0x39) || (code >= 0x41 && code <= 0x5a) ||
        (code >= 0x61 && code <= 0x7a) || code === 0x2d || code === 0x2e || code === 0x5f || code === 0x7e;
      return isUnreserved ? String.fromCharCode(code) : whole.toUpperCase();
    });
  } else {
    decoded = rawPath;
  }
  if (!decoded.includes('//') && !decoded.includes('/.')) return decoded;
  const out: string[] = [];
  const segments = decoded.split('/');
  for (let i = 1; i < segments.length; i++) {
    const seg = segments[i]!;
    if (seg === '' && i < segments.length - 1) continue;
    if (seg === '.') {
      if (i === segments.length - 1) out.push('');
      continue;
    }
    if (seg === '..') {
      out.pop();
      if (i === segments.length - 1) out.push('');
      continue;
    }
    out.push(seg);
  }
  return '/' + out.join('/');
}

/** Builds an AuthRequest; splits the query off the path and normalizes both. */
export function createAuthRequest(init: AuthRequestInit): AuthRequest | null {
  const headers = init.headers ?? {};
  const q = init.path.indexOf('?');
  const rawPath = q === -1 ? init.path : init.path.slice(0, q);
  const hash = rawPath.indexOf('#');
  const path = normalizePath(hash === -1 ? rawPath : rawPath.slice(0, hash));
  if (path === null) return null;
  return {
    id: init.id ?? headers['x-request-id'] ?? '',
    method: init.method.toUpperCase(),
    scheme: (init.scheme || headers['x-forwarded-proto'] || 'http').toLowerCase(),
    host: (init.host ?? headers[':authority'] ?? headers.host ?? '').toLowerCase(),
    path,
    query: q === -1 ? '' : init.path.slice(q + 1),
    headers,
    // Most API calls carry no cookie: they share one empty map instead of a new one each.
    cookies: headers.cookie ? parseCookieHeader(headers.cookie) : NO_COOKIES,
    sourceAddress: init.sourceAddress ?? '',
    body: init.body && init.body.length <= MAX_BODY_BYTES ? init.body : '',
  };
}
