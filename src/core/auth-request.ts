/**
 * AuthRequest: the plain-data question every door asks the core.
 *
 * Doors (gRPC Check, HTTP ext_authz, forward-auth) translate their wire format
 * into this shape; nothing here knows about a transport.
 */
import { isSpiffeId } from '../authz/spiffe-id.js';
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
  /**
   * The calling workload's SPIFFE id, '' when none: only from what the
   * proxy verified (Envoy's `source.principal` / peer certificate on the gRPC
   * door, the configured client-cert header on the HTTP door), never from a
   * header a client chose. Always a valid SPIFFE id when set.
   */
  readonly peerPrincipal: string;
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
  /** The peer's principal as the proxy verified it; dropped unless it is a valid SPIFFE id. */
  peerPrincipal?: string;
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
 * - repeated slashes merged;
 * - `.` and `..` segments resolved (never above the root).
 * A trailing slash is kept here (the login flow returns to the URL as sent);
 * route matching ignores it, as Kestra's router does (see routedPath in
 * src/authz/route-table.ts).
 * Returns null (the door answers 400) when the path is not an absolute path,
 * carries a NUL or a control character, or is read differently by different
 * parsers (see AMBIGUOUS): an encoded slash or backslash, a literal
 * backslash, or a `;` path parameter.
 */
export function normalizePath(rawPath: string): string | null {
  if (!rawPath.startsWith('/')) return null;
  // One scan decides whether the slow checks run; plain paths skip them.
  if (UNUSUAL.test(rawPath) && (CONTROL.test(rawPath) || AMBIGUOUS.test(rawPath))) return null;
  return resolvePath(rawPath);
}

/** Characters after which a path needs the slow checks: controls, escapes, backslashes, path parameters. */
// eslint-disable-next-line no-control-regex
const UNUSUAL = /[\x00-\x1f\x7f%\\;]/;
/** No HTTP client sends these in a path (Envoy and Node reject them raw); `%00` ends strings in some upstreams. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x1f\x7f]|%00/;
/**
 * Spellings that parsers read differently, so no rule can know which
 * resource the upstream serves:
 * - an encoded slash or backslash (`%2F`, `%5C`): an upstream that decodes
 *   the path before routing (Netty's decoder does; Envoy's
 *   `path_with_escaped_slashes_action` may) sees `company.other%2Fflow` as
 *   two segments where we see one;
 * - a literal backslash: Envoy's `normalize_path` and Windows read it as `/`;
 * - a path parameter `;…` (raw or `%3B`): Tomcat and Jetty strip it, Envoy
 *   and Netty keep it, Micronaut's `{variables}` stop at it — so
 *   `/flows/ns/f/;x` or `/flows/ns/f;x` names a different route depending on
 *   who reads it. No Kestra route has one.
 */
const AMBIGUOUS = /%2F|%5C|%3B|\\|;/i;

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
    peerPrincipal: init.peerPrincipal && isSpiffeId(init.peerPrincipal) ? init.peerPrincipal : '',
  };
}
