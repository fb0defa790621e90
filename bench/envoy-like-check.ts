/**
 * A request shaped like the ones Envoy's ext_authz filter sends for a
 * browser's XHR to Kestra's API (see shared/reference/performance.md): ~15
 * headers including the pseudo-headers and what Envoy's connection manager
 * adds, `path` carrying the query, a Bearer token. Only the token and the
 * request id vary between requests, as in real traffic.
 *
 * One header list feeds both doors, so the gRPC and the HTTP scenarios ask
 * the service the very same question:
 *  - `envoyLikeCheckRequest`: the gRPC CheckRequest (`grpc_service` mode);
 *  - `envoyLikeHttpCheck` / `envoyLikeHttp1Request`: the HTTP/1.1 request of
 *    Envoy's `http_service` mode (Istio `envoyExtAuthzHttp`): the original
 *    method, `path_prefix` + the original path, the original headers.
 */

export const BENCH_HOST = 'kestra.example.com';
/** GET of one flow: needs FLOW:READ in namespace company.team under Kestra's built-in rules. */
export const BENCH_PATH = '/api/v1/main/flows/company.team/hello';
/** The HTTP door's default `ext-authz-prefix` (Envoy's `http_service.path_prefix`). */
export const BENCH_EXT_AUTHZ_PREFIX = '/ext_authz';

/**
 * How much of the original request Envoy forwards, for the message-size runs
 * (`run-check-bench --request-shape`):
 *  - `envoy` (default): the 15 headers of a browser's XHR, ~1.6 KB per Check;
 *  - `minimal`: what a proxy configured to send only what the decision reads
 *    forwards (Envoy `allowed_headers` / Istio `includeRequestHeadersInCheck`
 *    limited to authorization and the request id) — pseudo-headers, token, id;
 *  - `large`: a browser with a 4 KB cookie jar and 20 more headers (tracing,
 *    client hints, CDN headers), ~7 KB per Check.
 */
export type RequestShape = 'minimal' | 'envoy' | 'large';
export const REQUEST_SHAPES: readonly RequestShape[] = ['minimal', 'envoy', 'large'];

export interface EnvoyLikeCheckInit {
  readonly token: string;
  /** Distinct per request in real traffic; the bench derives it from an index. */
  readonly sequence: number;
  /** Default `envoy`. */
  readonly shape?: RequestShape;
}

export type HeaderPair = readonly [name: string, value: string];

function requestId(sequence: number): string {
  const hex = sequence.toString(16).padStart(12, '0');
  return `6f1c2b9e-4d3a-4b8f-9a1e-${hex.slice(-12)}`;
}

/**
 * The original request's headers as Envoy presents them, pseudo-headers
 * first, in a fixed order (the order is part of the encoded CheckRequest's
 * bytes, so it must not change between runs).
 */
export function envoyLikeHeaders(init: EnvoyLikeCheckInit): readonly HeaderPair[] {
  const shape = init.shape ?? 'envoy';
  if (shape === 'minimal') {
    return [
      [':authority', BENCH_HOST],
      [':method', 'GET'],
      [':path', BENCH_PATH],
      [':scheme', 'https'],
      ['authorization', `Bearer ${init.token}`],
      ['x-request-id', requestId(init.sequence)],
    ];
  }
  const browser: HeaderPair[] = [
    [':authority', BENCH_HOST],
    [':method', 'GET'],
    [':path', BENCH_PATH],
    [':scheme', 'https'],
    ['accept', 'application/json, text/plain, */*'],
    ['accept-encoding', 'gzip, deflate, br, zstd'],
    ['accept-language', 'en-US,en;q=0.9,fr;q=0.8'],
    ['authorization', `Bearer ${init.token}`],
    ['referer', `https://${BENCH_HOST}/ui/main/flows/edit/company.team/hello`],
    ['user-agent', 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36'],
    ['x-envoy-expected-rq-timeout-ms', '15000'],
    ['x-envoy-internal', 'true'],
    ['x-forwarded-for', '203.0.113.24'],
    ['x-forwarded-proto', 'https'],
    ['x-request-id', requestId(init.sequence)],
  ];
  return shape === 'envoy' ? browser : [...browser, ...LARGE_EXTRA_HEADERS];
}

/** 20 more headers and a 4 KB cookie jar (analytics and session cookies a browser carries to the same host). */
const LARGE_EXTRA_HEADERS: readonly HeaderPair[] = [
  ['cookie', Array.from({ length: 32 }, (_, i) => `_pref_${i}=${'v'.repeat(112)}`).join('; ')],
  ['sec-ch-ua', '"Chromium";v="131", "Not_A Brand";v="24"'],
  ['sec-ch-ua-mobile', '?0'],
  ['sec-ch-ua-platform', '"Linux"'],
  ['sec-fetch-dest', 'empty'],
  ['sec-fetch-mode', 'cors'],
  ['sec-fetch-site', 'same-origin'],
  ['origin', `https://${BENCH_HOST}`],
  ['priority', 'u=1, i'],
  ['traceparent', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'],
  ['tracestate', 'vendor=opaque-value-0123456789abcdef'],
  ['x-b3-traceid', '4bf92f3577b34da6a3ce929d0e0e4736'],
  ['x-b3-spanid', '00f067aa0ba902b7'],
  ['x-b3-sampled', '1'],
  ['x-envoy-attempt-count', '1'],
  ['x-envoy-external-address', '203.0.113.24'],
  ['x-forwarded-host', BENCH_HOST],
  ['x-forwarded-port', '443'],
  ['x-real-ip', '203.0.113.24'],
  ['cdn-loop', 'cloudflare; loops=1'],
  ['cf-connecting-ip', '203.0.113.24'],
];

/** The CheckRequest as proto-loader's `requestSerialize` takes it (snake_case, int64 as string). */
export function envoyLikeCheckRequest(init: EnvoyLikeCheckInit): object {
  const headers: Record<string, string> = {};
  for (const [name, value] of envoyLikeHeaders(init)) headers[name] = value;
  return {
    attributes: {
      source: { address: { socket_address: { address: '203.0.113.24', port_value: 50_000 + (init.sequence % 10_000) } } },
      destination: { address: { socket_address: { address: '10.0.3.17', port_value: 8080 } } },
      request: {
        time: { seconds: '1764000000', nanos: 0 },
        http: {
          id: String(1_000_000 + init.sequence),
          method: 'GET',
          headers,
          path: BENCH_PATH,
          host: BENCH_HOST,
          scheme: 'https',
          protocol: 'HTTP/2',
          size: '0',
        },
      },
    },
  };
}

/** An HTTP/1.1 request as method, path and header lines (host first), for node:http, h2load and the raw generator. */
export interface HttpCheck {
  readonly method: string;
  readonly path: string;
  readonly headers: readonly HeaderPair[];
}

/**
 * What Envoy's HTTP ext_authz client sends for the same original request:
 * the original method, `prefix` + the original path, `host` = the original
 * authority, every other original header (Istio's
 * `includeRequestHeadersInCheck` / Envoy's `allowed_headers` letting them all
 * through), and `content-length: 0`, which Envoy's client always sets on a
 * check without a body.
 */
export function envoyLikeHttpCheck(init: EnvoyLikeCheckInit, prefix = BENCH_EXT_AUTHZ_PREFIX): HttpCheck {
  const pairs = envoyLikeHeaders(init);
  const pseudo = (name: string) => pairs.find(([n]) => n === name)![1];
  return {
    method: pseudo(':method'),
    path: `${prefix}${pseudo(':path')}`,
    headers: [['host', pseudo(':authority')], ...pairs.filter(([name]) => !name.startsWith(':')), ['content-length', '0']],
  };
}

/** The request's bytes on the wire: request line, header lines, empty line (no body). */
export function encodeHttp1Request(check: HttpCheck): Buffer {
  for (const [name, value] of check.headers) {
    // A CR or LF would split the request: a bench bug, not something to send.
    if (/[\r\n:]/.test(name) || /[\r\n]/.test(value)) throw new TypeError(`envoy-like-check: header ${JSON.stringify(name)} is not valid HTTP/1.1`);
  }
  const lines = [`${check.method} ${check.path} HTTP/1.1`, ...check.headers.map(([name, value]) => `${name}: ${value}`), '', ''];
  return Buffer.from(lines.join('\r\n'), 'latin1');
}

/** `encodeHttp1Request(envoyLikeHttpCheck(init, prefix))`: the bytes the raw HTTP/1.1 generator sends. */
export function envoyLikeHttp1Request(init: EnvoyLikeCheckInit, prefix = BENCH_EXT_AUTHZ_PREFIX): Buffer {
  return encodeHttp1Request(envoyLikeHttpCheck(init, prefix));
}
