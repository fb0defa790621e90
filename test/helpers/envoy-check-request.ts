/**
 * Builds a CheckRequest shaped exactly like the one Envoy's HTTP ext_authz
 * filter sends (CheckRequestUtils::createHttpCheck), as a plain object with
 * the snake_case keys of PROTO_LOADER_OPTIONS — ready for a grpc-js client's
 * Check(), or for authRequestFromCheck() directly.
 *
 * What Envoy does and this copies:
 * - `path` keeps the query string; `host` is `:authority`; `id` is the
 *   decimal stream id (not x-request-id); `size` is bytes received so far
 *   (0 at header time, so absent on the wire);
 * - `headers` holds the pseudo-headers :authority/:method/:path/:scheme, the
 *   client's headers with lower-case keys (an HTTP/1.1 `Host` became
 *   `:authority`), repeated headers joined with ","; HTTP/2 cookie crumbs
 *   are already one `cookie` joined with "; " by the codec;
 * - the connection manager (use_remote_address: true) has added
 *   x-request-id (uuid4), x-forwarded-proto, x-forwarded-for, and
 *   x-envoy-internal for a private/loopback peer;
 * - source/destination socket addresses, request.time, and the (empty unless
 *   configured) context_extensions, metadata_context, route_metadata_context.
 */
import { randomBytes, randomUUID } from 'node:crypto';

export interface EnvoyCheckRequestInit {
  method?: string;
  /** Path as the client sent it, query included: `/api/v1/main/flows?page=1`. */
  path?: string;
  /** `:authority`, e.g. `kestra.example.com` or `localhost:10000`. */
  host?: string;
  /** Client headers; any case; an array = the header sent several times. */
  headers?: Record<string, string | readonly string[]>;
  scheme?: 'http' | 'https';
  /** Client address, `ip` or `ip:port` (`[v6]:port`). */
  sourceAddress?: string;
  /** Listener address the client reached. */
  destinationAddress?: string;
  protocol?: 'HTTP/1.0' | 'HTTP/1.1' | 'HTTP/2' | 'HTTP/3';
  /** Per-route `check_settings.context_extensions`. */
  contextExtensions?: Record<string, string>;
  /** TLS SNI (only with `include_tls_session: true`). */
  sni?: string;
  /** Peer principal (URI SAN) under mTLS. */
  sourcePrincipal?: string;
  /** Peer certificate as Envoy sends it (`include_peer_certificate`): URL-encoded PEM. */
  sourceCertificatePem?: string;
  /** Stream id; random by default. */
  id?: string;
  /** When Envoy received the first byte; now by default. */
  time?: Date;
  /** Envoy's `encode_raw_headers: true`: `header_map` with byte values instead of `headers`. */
  encodeRawHeaders?: boolean;
}

export interface EnvoySocketAddress {
  address: { socket_address: { address: string; port_value: number } };
  principal?: string;
  certificate?: string;
}

export interface EnvoyCheckRequest {
  attributes: {
    source: EnvoySocketAddress;
    destination: EnvoySocketAddress;
    request: {
      time: { seconds: string; nanos: number };
      http: {
        id: string;
        method: string;
        headers?: Record<string, string>;
        header_map?: { headers: { key: string; raw_value: Buffer }[] };
        path: string;
        host: string;
        scheme: string;
        protocol: string;
      };
    };
    context_extensions: Record<string, string>;
    metadata_context: Record<string, never>;
    route_metadata_context: Record<string, never>;
    tls_session?: { sni: string };
  };
}

function socketAddress(text: string, defaultPort: number): EnvoySocketAddress {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (v6) return { address: { socket_address: { address: v6[1]!, port_value: Number(v6[2] ?? defaultPort) } } };
  const v4 = /^([^:]+):(\d+)$/.exec(text);
  if (v4) return { address: { socket_address: { address: v4[1]!, port_value: Number(v4[2]) } } };
  return { address: { socket_address: { address: text, port_value: defaultPort } } };
}

/** Envoy's notion of an internal peer (RFC 1918, loopback, IPv6 ULA). */
function isInternalAddress(ip: string): boolean {
  return /^(10\.|127\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.)/.test(ip) || ip === '::1' || /^f[cd]/i.test(ip);
}

export function envoyCheckRequest(init: EnvoyCheckRequestInit = {}): EnvoyCheckRequest {
  const method = (init.method ?? 'GET').toUpperCase();
  const path = init.path ?? '/';
  const host = init.host ?? 'kestra.example.com';
  const scheme = init.scheme ?? 'https';
  const protocol = init.protocol ?? 'HTTP/1.1';
  const source = socketAddress(init.sourceAddress ?? '203.0.113.7:54321', 0);
  const destination = socketAddress(init.destinationAddress ?? '10.0.0.10:10000', 10000);
  if (init.sourcePrincipal) source.principal = init.sourcePrincipal;
  // Envoy URL-encodes the PEM (Ssl::ConnectionInfo::urlEncodedPemEncodedPeerCertificate).
  if (init.sourceCertificatePem) source.certificate = encodeURIComponent(init.sourceCertificatePem);

  // Pseudo-headers first, in the order Envoy's codecs insert them.
  const headers: Record<string, string> = { ':authority': host, ':path': path, ':method': method, ':scheme': scheme };
  for (const [rawKey, rawValue] of Object.entries(init.headers ?? {})) {
    const key = rawKey.toLowerCase();
    if (key === 'host') continue; // became :authority
    const values = typeof rawValue === 'string' ? [rawValue] : [...rawValue];
    const separator = key === 'cookie' && protocol !== 'HTTP/1.0' && protocol !== 'HTTP/1.1' ? '; ' : ',';
    const joined = values.join(separator);
    headers[key] = headers[key] === undefined ? joined : `${headers[key]}${separator}${joined}`;
  }
  // What the connection manager adds as the edge (use_remote_address: true).
  const clientIp = source.address.socket_address.address;
  headers['x-forwarded-for'] = headers['x-forwarded-for'] ? `${headers['x-forwarded-for']},${clientIp}` : clientIp;
  headers['x-forwarded-proto'] = scheme;
  if (isInternalAddress(clientIp)) headers['x-envoy-internal'] = 'true';
  else delete headers['x-envoy-internal']; // Envoy strips a client-sent one
  headers['x-request-id'] ??= randomUUID();

  const time = init.time ?? new Date();
  const http: EnvoyCheckRequest['attributes']['request']['http'] = {
    id: init.id ?? randomBytes(8).readBigUInt64BE().toString(10),
    method,
    path,
    host,
    scheme,
    protocol,
  };
  if (init.encodeRawHeaders) {
    http.header_map = {
      headers: Object.entries(headers).map(([key, value]) => ({ key, raw_value: Buffer.from(value, 'latin1') })),
    };
  } else {
    http.headers = headers;
  }
  const request: EnvoyCheckRequest = {
    attributes: {
      source,
      destination,
      request: {
        time: { seconds: String(Math.floor(time.getTime() / 1000)), nanos: (time.getTime() % 1000) * 1e6 },
        http,
      },
      context_extensions: { ...init.contextExtensions },
      metadata_context: {},
      route_metadata_context: {},
    },
  };
  if (init.sni) request.attributes.tls_session = { sni: init.sni };
  return request;
}
