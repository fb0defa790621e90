/**
 * HTTP door, inbound: one incoming HTTP request → the mode it was sent in
 * and the original request it asks about, as an AuthRequest.
 *
 * Modes, checked in this order:
 *  1. `ext-authz` — Envoy's HTTP ext_authz service (Istio `envoyExtAuthzHttp`):
 *     the path starts with the configured prefix; the original path is the
 *     rest, method and host are this request's own. Off under a declared
 *     forward-auth proxy (`authz.http.forward-auth.trust: nginx|caddy|traefik`).
 *  2. `forward-auth` — Caddy / Traefik (`X-Forwarded-Uri`) or nginx
 *     (`X-Original-URI`): the original request is described by the trusted
 *     dialect's URI and method headers and X-Forwarded-Proto / -Host
 *     (forwarded-headers.ts says which headers are trusted, per proxy kind).
 *     Off under `envoy`.
 *  3. `direct` — anything else is a request to our own endpoints.
 *
 * The prefix is checked first on purpose: Envoy forwards client headers it is
 * told to allow, so a client-sent X-Forwarded-Uri must never re-describe an
 * ext_authz request. A header the door reads that arrives twice, or two
 * dialects that disagree, make the request undecidable: the door answers 400.
 * The remaining X-Forwarded-* values are trusted because only the proxy may
 * reach this port (see docs/recipes/http-door.md: bind it to the proxy's network) and every
 * recipe sets or blanks each of them.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { createAuthRequest, type AuthRequest } from '../core/auth-request.js';
import {
  describeForwardAuth, ForwardedHeaderError, repeatedReadHeader, type ForwardAuthDescription, type ForwardedPolicy,
} from './forwarded-headers.js';
import { principalFromClientCertHeader } from './client-cert-header.js';

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
  /** The peer's SPIFFE id from the configured client-cert header; '' when not configured or absent. */
  readonly peerPrincipal: string;
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

/** Request headers, plus the names that arrived on more than one line. */
export interface ReadHeaders {
  readonly headers: Record<string, string>;
  /** Lower-case names seen twice or more (Cookie excepted); undefined when none. */
  readonly repeated: readonly string[] | undefined;
}

/**
 * Headers as Envoy presents them: lower-case names, repeated headers joined
 * with ',' (Cookie with '; ', as browsers and HTTP/2 do) — and which names
 * were repeated, so a header that must be single can be refused.
 */
export function headersOf(req: IncomingMessage): ReadHeaders {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  let repeated: string[] | undefined;
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    const value = raw[i + 1]!;
    const prev = out[name];
    if (prev === undefined) {
      out[name] = value;
    } else if (name === 'cookie') {
      out[name] = `${prev}; ${value}`;
    } else {
      out[name] = `${prev},${value}`;
      (repeated ??= []).push(name);
    }
  }
  return { headers: out, repeated };
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

/** Why the door answers 400 without deciding; names headers, never their values. */
export interface QuestionRefusal {
  readonly refused: string;
}

const NOT_A_REQUEST: QuestionRefusal = Object.freeze({ refused: 'the forwarded request is not a valid HTTP request' });

/**
 * What is being asked, or why it cannot be told (the door answers 400): an
 * ext_authz path whose rest is not absolute, a forward-auth method that is
 * not a method, a repeated header the door reads, two dialects that disagree.
 */
export function questionFrom(req: IncomingMessage, extAuthzPrefix: string, policy: ForwardedPolicy): HttpAuthQuestion | QuestionRefusal {
  const { headers, repeated } = headersOf(req);
  const twice = repeatedReadHeader(policy, repeated);
  if (twice !== undefined) return { refused: `${twice} arrived more than once: the request it describes is ambiguous` };
  const url = req.url ?? '/';
  const requestId = requestIdFrom(headers);
  const socketAddress = req.socket.remoteAddress ?? '';
  const ownMethod = (req.method ?? 'GET').toUpperCase();
  const ownHost = headers.host ?? '';
  // Only the header the operator named (set by the proxy); with none named, a client's XFCC means nothing.
  const clientCert = policy.clientCertHeader === undefined ? undefined : headers[policy.clientCertHeader];
  const peerPrincipal = clientCert === undefined ? '' : principalFromClientCertHeader(clientCert);

  if (policy.extAuthz && (url === extAuthzPrefix || url.startsWith(`${extAuthzPrefix}/`) || url.startsWith(`${extAuthzPrefix}?`))) {
    const rest = url.slice(extAuthzPrefix.length);
    if (!rest.startsWith('/')) return NOT_A_REQUEST;
    return {
      mode: 'ext-authz', nginx: false, method: ownMethod, rawPath: rest,
      scheme: firstValue(headers['x-forwarded-proto']) ?? 'http',
      host: ownHost, headers, requestId,
      sourceAddress: lastForwardedFor(headers['x-forwarded-for']) ?? socketAddress,
      peerPrincipal,
    };
  }

  let forwarded: ForwardAuthDescription | undefined;
  try {
    forwarded = describeForwardAuth(policy, headers);
  } catch (err) {
    if (err instanceof ForwardedHeaderError) return { refused: err.message };
    throw err;
  }
  if (forwarded !== undefined) {
    if (!TOKEN_METHOD.test(forwarded.method)) return NOT_A_REQUEST;
    return {
      mode: 'forward-auth', nginx: forwarded.dialect.nginx,
      method: forwarded.method.toUpperCase(), rawPath: forwarded.uri,
      scheme: firstValue(headers['x-forwarded-proto']) ?? 'http',
      host: firstValue(headers['x-forwarded-host']) ?? ownHost,
      headers, requestId,
      sourceAddress: lastForwardedFor(headers['x-forwarded-for']) ?? socketAddress,
      peerPrincipal,
    };
  }

  return {
    mode: 'direct', nginx: false, method: ownMethod, rawPath: url,
    scheme: firstValue(headers['x-forwarded-proto']) ?? 'http',
    host: firstValue(headers['x-forwarded-host']) ?? ownHost,
    // Our own endpoints, not a request the proxy describes: no peer principal.
    headers, requestId, sourceAddress: socketAddress, peerPrincipal: '',
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
    peerPrincipal: question.peerPrincipal,
    body,
  });
}
