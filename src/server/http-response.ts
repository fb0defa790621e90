/**
 * HTTP door, outbound: Decision → HTTP status, headers and body.
 *
 * Allow is always **200** (never 202: some forward-auth clients treat only
 * 200 as success — oauth2-proxy #2832) with:
 *  - the identity headers as response headers, so Caddy `copy_headers`,
 *    Traefik `authResponseHeaders`, Envoy `allowed_upstream_headers` and
 *    nginx `auth_request_set` can put them on the upstream request;
 *  - in forward-auth mode, every identity header we do not set is sent with
 *    an EMPTY value, so a proxy that copies it overwrites (Caddy 2.6, nginx
 *    `proxy_set_header`, Traefik) whatever the client sent;
 *  - `x-envoy-auth-headers-to-remove` listing the headers Envoy must remove
 *    from the upstream request (spoofed identity headers, our cookies);
 *  - decision.responseHeaders (a refreshed Set-Cookie), for Envoy's
 *    `allowed_client_headers_on_success` — behind Caddy/Traefik an allowed
 *    navigation carrying new cookies is a 307 to itself instead, and nginx
 *    also gets them as numbered headers (refreshed-cookies.ts).
 * Deny is decision.status with its headers (several Set-Cookie lines kept)
 * and body — except for nginx's auth_request, which turns anything but
 * 2xx/401/403 into a 500: a redirect is sent to it as 401 + Location.
 * No request header value is ever copied into a response a client sees: the
 * Cookie (ours removed) goes to the proxy on a 200, which puts it on the
 * upstream request, never on the client's response.
 */
import type { ServerResponse } from 'node:http';
import type { Decision, HeaderPair } from '../core/decision.js';
import type { HttpAuthQuestion } from './http-request.js';
import { numberedSetCookies, refreshRedirect } from './refreshed-cookies.js';

export const HEADERS_TO_REMOVE_HEADER = 'x-envoy-auth-headers-to-remove';

/** Door-level error codes (the core's reason codes cover decisions). */
export type HttpDoorErrorCode = 'not_found' | 'bad_request' | 'payload_too_large' | 'internal_error';

const STATUS_OF: Record<HttpDoorErrorCode, number> = {
  not_found: 404,
  bad_request: 400,
  payload_too_large: 413,
  internal_error: 500,
};

/** Groups pairs by name so several values (Set-Cookie, WWW-Authenticate) become several header lines. */
function grouped(pairs: readonly HeaderPair[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [name, value] of pairs) {
    const key = name.toLowerCase();
    const list = out.get(key);
    if (list) list.push(value); else out.set(key, [value]);
  }
  return out;
}

function allowHeaders(decision: Decision, question: HttpAuthQuestion, identityHeaders: readonly string[]): HeaderPair[] {
  const pairs: HeaderPair[] = [];
  let strippedCookie: string | undefined;
  for (const pair of decision.upstreamHeaders) {
    if (pair[0] === 'cookie') strippedCookie = pair[1];
    else pairs.push(pair);
  }
  if (question.mode === 'ext-authz') {
    // Envoy: allowed_upstream_headers: cookie replaces the upstream Cookie.
    if (strippedCookie !== undefined) pairs.push(['cookie', strippedCookie]);
  } else if (question.mode === 'forward-auth') {
    for (const name of decision.upstreamHeadersToRemove) {
      if (identityHeaders.includes(name)) pairs.push([name, '']);
    }
    // The Cookie the upstream should see, ours removed, for `copy_headers Cookie`
    // (Caddy) / `authResponseHeaders: [Cookie]` (Traefik). Always sent — the
    // client's own value when nothing was ours — because a proxy told to copy
    // a header the answer lacks may forward a placeholder instead (Caddy 2.6).
    const removeAll = decision.upstreamHeadersToRemove.includes('cookie');
    pairs.push(['cookie', removeAll ? '' : strippedCookie ?? question.headers.cookie ?? '']);
  }
  if (decision.upstreamHeadersToRemove.length) {
    pairs.push([HEADERS_TO_REMOVE_HEADER, decision.upstreamHeadersToRemove.join(',')]);
  }
  pairs.push(...decision.responseHeaders);
  pairs.push(['cache-control', 'no-store']);
  return pairs;
}

/** The status a proxy can relay: nginx auth_request knows only 2xx/401/403. */
function statusFor(decision: Decision, question: HttpAuthQuestion): number {
  if (question.nginx && decision.status >= 300 && decision.status < 400) return 401;
  return decision.status;
}

/** Writes the decision; throws (before anything is sent) if a header value is not valid HTTP. */
export function writeDecision(
  res: ServerResponse,
  decision: Decision,
  question: HttpAuthQuestion,
  identityHeaders: readonly string[],
): void {
  const redirect = refreshRedirect(decision, question);
  const allowed = decision.allow && !redirect;
  const status = redirect ? 307 : allowed ? 200 : statusFor(decision, question);
  const body = allowed || redirect ? '' : decision.body;
  let pairs: readonly HeaderPair[] = redirect
    ? [['location', redirect.location], ['cache-control', 'no-store'], ...redirect.cookies]
    : allowed ? allowHeaders(decision, question, identityHeaders) : decision.responseHeaders;
  if (question.nginx) pairs = [...pairs, ...numberedSetCookies(pairs)];
  const headers = grouped(pairs);
  // Validate every header before sending any, so a bad value becomes a clean 500.
  for (const [name, values] of headers) res.setHeader(name, values.length === 1 ? values[0]! : values);
  if (!res.hasHeader('x-request-id')) res.setHeader('x-request-id', decision.requestId);
  res.setHeader('content-length', Buffer.byteLength(body));
  res.writeHead(status);
  res.end(body);
}

/** A JSON error the door itself produces (no decision was made, or it could not be written). */
export function writeDoorError(
  res: ServerResponse,
  code: HttpDoorErrorCode,
  message: string,
  requestId: string,
  options: { closeConnection?: boolean } = {},
): void {
  const body = JSON.stringify({ error: code, message, requestId });
  if (res.headersSent) {
    res.destroy();
    return;
  }
  for (const name of res.getHeaderNames()) res.removeHeader(name);
  res.writeHead(STATUS_OF[code], {
    'content-type': 'application/json',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(body),
    'x-request-id': requestId,
    ...(options.closeConnection ? { connection: 'close' } : {}),
  });
  res.end(body);
}
