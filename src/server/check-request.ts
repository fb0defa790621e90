/**
 * gRPC door, inbound: Envoy's CheckRequest (as decoded by proto-loader with
 * snake_case keys) → AuthRequest. Handles what Envoy actually sends: `path`
 * carries the query string, header keys are lower-case, pseudo-headers are
 * present, and with `encode_raw_headers` the headers arrive as `header_map`
 * with byte values instead of `headers`.
 */
import { createAuthRequest, type AuthRequest } from '../core/auth-request.js';
import { peerPrincipalOf } from './peer-principal.js';

export interface RawHeader {
  key?: string;
  value?: string;
  raw_value?: Uint8Array;
}

export interface CheckRequestLike {
  attributes?: {
    source?: { address?: { socket_address?: { address?: string } }; principal?: string; certificate?: string };
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

/**
 * Prototype of header records: nothing behind it, so a header named
 * `constructor` or `__proto__` is just a key. Objects made with
 * Object.create(null) itself live in V8's slow dictionary mode; one level
 * above an empty frozen object they keep fast properties.
 */
const HEADER_RECORD_PROTOTYPE: object = Object.freeze(Object.create(null) as object);

/** An empty record for request headers: no inherited keys, fast property access. */
export function emptyHeaderRecord(): Record<string, string> {
  return Object.create(HEADER_RECORD_PROTOTYPE) as Record<string, string>;
}

/** Limits that keep a hostile CheckRequest from costing unbounded work. */
export const MAX_HEADER_MAP_ENTRIES = 256;

/**
 * The HttpRequest fields a decision uses, however they were decoded (from
 * proto-loader's object here, straight from the bytes in check-request-wire).
 * One conversion to AuthRequest serves both, so they cannot drift apart.
 */
export interface CheckHttpFields {
  /** Whether attributes.request.http was present at all. */
  present: boolean;
  id: string;
  method: string;
  path: string;
  host: string;
  scheme: string;
  body: string;
  rawBody: Uint8Array | undefined;
  /** The `headers` map as sent (keys not yet lower-cased). */
  headers: Record<string, string>;
  headerCount: number;
  /** False only when every `headers` name is known to be lower-case already. */
  mayHaveUpperCaseNames: boolean;
  /** `header_map` entries (encode_raw_headers), at most MAX_HEADER_MAP_ENTRIES. */
  headerList: RawHeader[];
  sourceAddress: string;
  /** Peer.principal: Envoy's verified URI SAN (else subject) of the client certificate; '' without mTLS. */
  sourcePrincipal: string;
  /** Peer.certificate: the client certificate, URL-encoded PEM, when Envoy is set to include it. */
  sourceCertificate: string;
}

function headersFrom(fields: CheckHttpFields): Record<string, string> {
  if (fields.headerCount > 0) {
    const given = fields.headers;
    // Envoy already lower-cases names; a non-Envoy client might not — normalize only if needed.
    if (!fields.mayHaveUpperCaseNames) return given;
    for (const key in given) {
      if (key !== key.toLowerCase()) return lowerCased(given);
    }
    return given;
  }
  const out = emptyHeaderRecord();
  for (const h of fields.headerList) {
    if (!h.key) continue;
    const key = h.key.toLowerCase();
    const value = h.raw_value && h.raw_value.length ? Buffer.from(h.raw_value.buffer, h.raw_value.byteOffset, h.raw_value.byteLength).toString('latin1') : h.value ?? '';
    out[key] = out[key] === undefined ? value : `${out[key]},${value}`;
  }
  return out;
}

function lowerCased(headers: Record<string, string>): Record<string, string> {
  const out = emptyHeaderRecord();
  let count = 0;
  for (const [k, v] of Object.entries(headers)) {
    if (++count > MAX_HEADER_MAP_ENTRIES) break;
    const key = k.toLowerCase();
    out[key] = out[key] === undefined ? v : `${out[key]},${v}`;
  }
  return out;
}

/** null when the request has no usable HTTP attributes or a non-absolute path. */
export function authRequestFromFields(fields: CheckHttpFields): AuthRequest | null {
  if (!fields.present) return null;
  const headers = headersFrom(fields);
  const path = fields.path || headers[':path'] || '';
  const method = fields.method || headers[':method'] || '';
  if (!method) return null;
  return createAuthRequest({
    id: headers['x-request-id'] || fields.id || '',
    method,
    scheme: fields.scheme || headers[':scheme'] || headers['x-forwarded-proto'] || 'http',
    host: fields.host || headers[':authority'] || headers.host || '',
    path,
    headers,
    sourceAddress: fields.sourceAddress,
    peerPrincipal: peerPrincipalOf(fields.sourcePrincipal, fields.sourceCertificate),
    // Present only when Envoy's `with_request_body` is on (needed for form_post callbacks).
    body: fields.rawBody && fields.rawBody.length ? Buffer.from(fields.rawBody.buffer, fields.rawBody.byteOffset, fields.rawBody.byteLength).toString('utf8') : fields.body,
  });
}

/**
 * From proto-loader's decoded object (tests, tools, the reference for the
 * wire decoder); the gRPC door itself decodes bytes with authRequestFromCheckBytes.
 */
export function authRequestFromCheck(check: CheckRequestLike): AuthRequest | null {
  const http = check.attributes?.request?.http;
  const headers = http?.headers ?? {};
  return authRequestFromFields({
    present: http !== undefined && http !== null,
    id: http?.id ?? '',
    method: http?.method ?? '',
    path: http?.path ?? '',
    host: http?.host ?? '',
    scheme: http?.scheme ?? '',
    body: http?.body ?? '',
    rawBody: http?.raw_body,
    headers,
    headerCount: Object.keys(headers).length,
    mayHaveUpperCaseNames: true,
    headerList: (http?.header_map?.headers ?? []).slice(0, MAX_HEADER_MAP_ENTRIES),
    sourceAddress: check.attributes?.source?.address?.socket_address?.address ?? '',
    sourcePrincipal: check.attributes?.source?.principal ?? '',
    sourceCertificate: check.attributes?.source?.certificate ?? '',
  });
}
