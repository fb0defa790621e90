/** HeaderNameCache: the names proxies send all stay cached, and every answer is exactly the bytes' string. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HeaderNameCache, MAX_CACHED_NAME_BYTES } from '../../src/server/header-name-cache.js';

const decode = (buf: Uint8Array, start: number, stop: number) => Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).toString('utf8', start, stop);

/** Names Envoy and Istio put in a Check for a browser's request, tracing, CDN and client-hint headers included. */
const PROXY_HEADER_NAMES = [
  ':authority', ':method', ':path', ':scheme', 'accept', 'accept-encoding', 'accept-language', 'authorization',
  'cache-control', 'cdn-loop', 'cf-connecting-ip', 'content-length', 'content-type', 'cookie', 'origin', 'priority',
  'referer', 'sec-ch-ua', 'sec-ch-ua-mobile', 'sec-ch-ua-platform', 'sec-fetch-dest', 'sec-fetch-mode',
  'sec-fetch-site', 'traceparent', 'tracestate', 'user-agent', 'x-b3-parentspanid', 'x-b3-sampled', 'x-b3-spanid',
  'x-b3-traceid', 'x-envoy-attempt-count', 'x-envoy-expected-rq-timeout-ms', 'x-envoy-external-address',
  'x-envoy-internal', 'x-envoy-peer-metadata', 'x-envoy-peer-metadata-id', 'x-forwarded-client-cert',
  'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-port', 'x-forwarded-proto', 'x-real-ip', 'x-request-id',
  'x-requested-with',
];

/** All names back to back in one buffer, as they sit inside a CheckRequest frame; returns each one's span. */
function packed(names: readonly string[]): { buf: Buffer; spans: [number, number][] } {
  const buf = Buffer.from(`#${names.join('#')}#`);
  const spans: [number, number][] = [];
  let at = 1;
  for (const name of names) {
    const length = Buffer.byteLength(name);
    spans.push([at, at + length]);
    at += length + 1;
  }
  return { buf, spans };
}

test("every name a proxy sends stays cached: after the first Check, none is made again (`:method` and `x-forwarded-for` share a set)", () => {
  const cache = new HeaderNameCache(decode);
  const { buf, spans } = packed(PROXY_HEADER_NAMES);
  for (const [start, stop] of spans) cache.nameAt(buf, start, stop);
  assert.equal(cache.misses, PROXY_HEADER_NAMES.length);
  for (let round = 0; round < 3; round++) {
    spans.forEach(([start, stop], i) => assert.equal(cache.nameAt(buf, start, stop), PROXY_HEADER_NAMES[i]));
  }
  assert.equal(cache.misses, PROXY_HEADER_NAMES.length, 'no name was evicted by another');
});

test('answers are exact whatever the cache holds: same-length look-alikes, non-ASCII, long names, a flood of new names', () => {
  const cache = new HeaderNameCache(decode);
  const lookAlikes = ['x-a', 'x-b', 'y-a', 'x-request-id', 'x-request-ie', 'ümlaut-name', 'a'.repeat(MAX_CACHED_NAME_BYTES), 'b'.repeat(MAX_CACHED_NAME_BYTES + 1)];
  const flood = Array.from({ length: 5_000 }, (_, i) => `x-flood-${i.toString(36)}`);
  const all = [...lookAlikes, ...PROXY_HEADER_NAMES, ...flood, ...lookAlikes, ...PROXY_HEADER_NAMES];
  const { buf, spans } = packed(all);
  spans.forEach(([start, stop], i) => assert.equal(cache.nameAt(buf, start, stop), all[i], `name #${i}`));
  assert.equal(cache.nameAt(buf, 1, 1), '', 'an empty name');
});
