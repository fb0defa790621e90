/**
 * gRPC door, inbound: Envoy's CheckRequest (as decoded by proto-loader with
 * snake_case keys) → AuthRequest. Handles what Envoy actually sends: `path`
 * carries the query string, header keys are lower-case, pseudo-headers are
 * present, and with `encode_raw_headers` the headers arrive as `header_map`
 * with byte values instead of `headers`.
 */
import { createAuthRequest, type AuthRequest } from '../core/auth-request.js';

interface RawHeader {
  key?: string;
  value?: string;
  raw_value?: Uint8Array;
}

export interface CheckRequestLike {
  attributes?: {
    source?: { address?: { socket_address?: { address?: string } } };
    request?: {
      http?: {
        id?: string;
        method?: string;
        headers?: Record<string, string>;
        header_map?: { headers?: RawHeader[] };
        path?: string;
        host?: string;
        scheme?: string;
        body?: string;
        raw_body?: Uint8Array;
      };
    };
  };
}

/** Limits that keep a hostile CheckRequest from costing unbounded work. */
const MAX_HEADERS = 256;

function headersFrom(http: NonNullable<NonNullable<NonNullable<CheckRequestLike['attributes']>['request']>['http']>): Record<string, string> {
  if (http.headers && Object.keys(http.headers).length) {
    const given = http.headers;
    // Envoy already lower-cases keys; a non-Envoy client might not — normalize cheaply only if needed.
    for (const key in given) {
      if (key !== key.toLowerCase()) return lowerCased(given);
    }
    return given;
  }
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  const list = http.header_map?.headers ?? [];
  const n = Math.min(list.length, MAX_HEADERS);
  for (let i = 0; i < n; i++) {
    const h = list[i]!;
    if (!h.key) continue;
    const key = h.key.toLowerCase();
    const value = h.raw_value && h.raw_value.length ? Buffer.from(h.raw_value).toString('latin1') : h.value ?? '';
    out[key] = out[key] === undefined ? value : `${out[key]},${value}`;
  }
  return out;
}

function lowerCased(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  let count = 0;
  for (const [k, v] of Object.entries(headers)) {
    if (++count > MAX_HEADERS) break;
    const key = k.toLowerCase();
    out[key] = out[key] === undefined ? v : `${out[key]},${v}`;
  }
  return out;
}

/** null when the request has no usable HTTP attributes or a non-absolute path. */
export function authRequestFromCheck(check: CheckRequestLike): AuthRequest | null {
  const http = check.attributes?.request?.http;
  if (!http) return null;
  const headers = headersFrom(http);
  const path = http.path || headers[':path'] || '';
  const method = http.method || headers[':method'] || '';
  if (!method) return null;
  return createAuthRequest({
    id: headers['x-request-id'] || http.id || '',
    method,
    scheme: http.scheme || headers[':scheme'] || headers['x-forwarded-proto'] || 'http',
    host: http.host || headers[':authority'] || headers.host || '',
    path,
    headers,
    sourceAddress: check.attributes?.source?.address?.socket_address?.address ?? '',
    // Present only when Envoy's `with_request_body` is on (needed for form_post callbacks).
    body: http.raw_body && http.raw_body.length ? Buffer.from(http.raw_body).toString('utf8') : http.body ?? '',
  });
}
