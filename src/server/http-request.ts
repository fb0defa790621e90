/**
 * HTTP door, inbound: one incoming HTTP request → the mode it was sent in
 * and the original request it asks about, as an AuthRequest.
 *
 * Modes, checked in this order:
 *  1. `ext-authz` — Envoy's HTTP ext_authz service (Istio `envoyExtAuthzHttp`):
 *     the path starts with the configured prefix; the original path is the
 *     rest, method and host are this request's own.
 *  2. `forward-auth` — Caddy / Traefik (`X-Forwarded-Uri`) or nginx
 *     (`X-Original-URI`): the original request is described by
 *     X-Forwarded-Method / -Proto / -Host and the URI header.
 *  3. `direct` — anything else is a request to our own endpoints.
 *
 * The prefix is checked first on purpose: Envoy forwards client headers it is
 * told to allow, so a client-sent X-Forwarded-Uri must never re-describe an
 * ext_authz request. The X-Forwarded-* values are trusted because only the
 * proxy may reach this port (see README: bind it to the proxy's network).
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { createAuthRequest, type AuthRequest } from '../core/auth-request.js';

export type HttpDoorMode = 'ext-authz' | 'forward-auth' | 'direct';

export interface HttpAuthQuestion {
  readonly mode: HttpDoorMode;
  /** True when the proxy speaks nginx's auth_request dialect (X-Original-URI): it only understands 2xx/401/403. */
  readonly nginx: boolean;
  /** Method + path (with query) of the original request, before normalization. */
  readonly method: string;
  readonly rawPath: string;
  readonly scheme: string;
  readonly host: string;
  readonly headers: Record<string, string>;
  readonly requestId: string;
  readonly sourceAddress: string;
}

/** Our own endpoints on this port; a direct request elsewhere is a 404 (the door is not a proxy). */
const OWN_ENDPOINT_PREFIXES: readonly string[] = ['/oauth/', '/.well-known/'];
const OWN_ENDPOINTS: readonly string[] = ['/login', '/logout'];

/** True for /oauth/…, /.well-known/…, /login, /login/…, /logout, /logout/… (path without query). */
export function isOwnEndpoint(path: string): boolean {
  for (const prefix of OWN_ENDPOINT_PREFIXES) if (path.startsWith(prefix)) return true;
  for (const exact of OWN_ENDPOINTS) {
    if (path === exact || path.startsWith(`${exact}/`) || path.startsWith(`${exact}?`)) return true;
  }
  return false;
}

/** A request id we are willing to echo in a JSON body: short, no markup. Else a fresh one. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

function requestIdFrom(headers: Record<string, string>): string {
  const given = headers['x-request-id'];
  return given && REQUEST_ID.test(given) ? given : randomUUID();
}

/**
 * Headers as Envoy presents them: lower-case names, repeated headers joined
 * with ',' (Cookie with '; ', as browsers and HTTP/2 do).
 */
export function headersOf(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    const value = raw[i + 1]!;
    const prev = out[name];
    out[name] = prev === undefined ? value : `${prev}${name === 'cookie' ? '; ' : ','}${value}`;
  }
  return out;
}

/** First value of a possibly comma-joined header (a proxy chain may have appended). */
function firstValue(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const comma = value.indexOf(',');
  return (comma === -1 ? value : value.slice(0, comma)).trim() || undefined;
}

/** The address the last proxy saw (it appended it to X-Forwarded-For); for logs only. */
function lastForwardedFor(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const last = value.slice(value.lastIndexOf(',') + 1).trim();
  return last || undefined;
}

const TOKEN_METHOD = /^[A-Za-z]{1,20}$/;

/**
 * What is being asked. Returns null when the request cannot describe an
 * original request (e.g. an ext_authz path whose rest is not absolute, or a
 * forward-auth method that is not a method): the door answers 400.
 */
export function questionFrom(req: IncomingMessage, extAuthzPrefix: string): HttpAuthQuestion | null {
  const headers = headersOf(req);
  const url = req.url ?? '/';
  const requestId = requestIdFrom(headers);
  const socketAddress = req.socket.remoteAddress ?? '';
  const ownMethod = (req.method ?? 'GET').toUpperCase();
  const ownHost = headers.host ?? '';

  if (url === extAuthzPrefix || url.startsWith(`${extAuthzPrefix}/`) || url.startsWith(`${extAuthzPrefix}?`)) {
    const rest = url.slice(extAuthzPrefix.length);
    if (!rest.startsWith('/')) return null;
    return {
      mode: 'ext-authz', nginx: false, method: ownMethod, rawPath: rest,
      scheme: firstValue(headers['x-forwarded-proto']) ?? 'http',
      host: ownHost, headers, requestId,
      sourceAddress: lastForwardedFor(headers['x-forwarded-for']) ?? socketAddress,
    };
  }

  const forwardedUri = headers['x-forwarded-uri'];
  const originalUri = forwardedUri === undefined ? headers['x-original-uri'] : undefined;
  const uri = forwardedUri ?? originalUri;
  if (uri !== undefined) {
    const method = (headers['x-forwarded-method'] ?? headers['x-original-method'] ?? 'GET').trim();
    if (!TOKEN_METHOD.test(method)) return null;
    return {
      mode: 'forward-auth', nginx: originalUri !== undefined,
      method: method.toUpperCase(), rawPath: uri,
      scheme: firstValue(headers['x-forwarded-proto']) ?? 'http',
      host: firstValue(headers['x-forwarded-host']) ?? ownHost,
      headers, requestId,
      sourceAddress: lastForwardedFor(headers['x-forwarded-for']) ?? socketAddress,
    };
  }

  return {
    mode: 'direct', nginx: false, method: ownMethod, rawPath: url,
    scheme: firstValue(headers['x-forwarded-proto']) ?? 'http',
    host: firstValue(headers['x-forwarded-host']) ?? ownHost,
    headers, requestId, sourceAddress: socketAddress,
  };
}

/** The AuthRequest the core decides on; null when the original path is not an absolute path. */
export function authRequestFor(question: HttpAuthQuestion, body: string): AuthRequest | null {
  return createAuthRequest({
    id: question.requestId,
    method: question.method,
    scheme: question.scheme,
    host: question.host,
    path: question.rawPath,
    headers: question.headers,
    sourceAddress: question.sourceAddress,
    body,
  });
}
