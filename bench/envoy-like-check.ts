/**
 * A CheckRequest shaped like the ones Envoy's ext_authz filter sends for a
 * browser's XHR to Kestra's API (see shared/reference/performance.md): ~15
 * headers including the pseudo-headers and what Envoy's connection manager
 * adds, `path` carrying the query, a Bearer token. Only the token and the
 * request id vary between requests, as in real traffic.
 */

export const BENCH_HOST = 'kestra.example.com';
/** GET of one flow: needs FLOW:READ in namespace company.team under Kestra's built-in rules. */
export const BENCH_PATH = '/api/v1/main/flows/company.team/hello';

export interface EnvoyLikeCheckInit {
  readonly token: string;
  /** Distinct per request in real traffic; the bench derives it from an index. */
  readonly sequence: number;
}

function requestId(sequence: number): string {
  const hex = sequence.toString(16).padStart(12, '0');
  return `6f1c2b9e-4d3a-4b8f-9a1e-${hex.slice(-12)}`;
}

/** The CheckRequest as proto-loader's `requestSerialize` takes it (snake_case, int64 as string). */
export function envoyLikeCheckRequest(init: EnvoyLikeCheckInit): object {
  const id = requestId(init.sequence);
  const headers: Record<string, string> = {
    ':authority': BENCH_HOST,
    ':method': 'GET',
    ':path': BENCH_PATH,
    ':scheme': 'https',
    accept: 'application/json, text/plain, */*',
    'accept-encoding': 'gzip, deflate, br, zstd',
    'accept-language': 'en-US,en;q=0.9,fr;q=0.8',
    authorization: `Bearer ${init.token}`,
    referer: `https://${BENCH_HOST}/ui/main/flows/edit/company.team/hello`,
    'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
    'x-envoy-expected-rq-timeout-ms': '15000',
    'x-envoy-internal': 'true',
    'x-forwarded-for': '203.0.113.24',
    'x-forwarded-proto': 'https',
    'x-request-id': id,
  };
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
