/**
 * What "well-formed" means for a Decision and for the CheckResponse Envoy
 * reads — property (b) of the fuzz and half of (d)/(e).
 */
import assert from 'node:assert/strict';
import type { Decision, HeaderPair } from '../../src/core/decision.js';
import { REASONS, REASON_CODES } from '../../src/core/reasons.js';
import type { CheckResponseJs } from '../helpers/grpc-client.js';

/** HTTP statuses a denial may carry: the reason registry's, plus the login flow's own pages (200 sign-in page, 404/405). */
export const DENIAL_STATUSES: ReadonlySet<number> = new Set([200, 302, 303, 400, 401, 403, 404, 405, 500, 503]);
/** google.rpc.Code values the door uses. */
const RPC_CODES: ReadonlySet<number> = new Set([0, 3, 7, 13, 14, 16]);

/** RFC 9110 token, lower-case as every header name we emit is. */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;
/** No control characters except HTAB: CR/LF/NUL would split or truncate the header. */
// eslint-disable-next-line no-control-regex
const HEADER_VALUE_BAD = /[\x00-\x08\x0a-\x1f\x7f]/;

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Equal after a protobuf round trip. A string with a lone surrogate cannot be
 * UTF-8 and comes back altered (only in-process fuzzing makes such strings;
 * off the wire every string is valid UTF-8), so it is only checked to be there.
 */
export function assertSameAfterProto(actual: readonly (readonly [string, string])[], expected: readonly (readonly [string, string])[], what: string): void {
  assert.equal(actual.length, expected.length, `${what}: count`);
  expected.forEach(([name, value], i) => {
    assert.equal(actual[i]![0], name, `${what}: name #${i}`);
    if (!LONE_SURROGATE.test(value)) assert.equal(actual[i]![1], value, `${what}: value of ${name}`);
  });
}

export const wellFormedUtf16 = (s: string): boolean => !LONE_SURROGATE.test(s);

function assertHeader(where: string, name: string, value: string): void {
  assert.equal(typeof name, 'string', `${where}: header name is a string`);
  assert.equal(typeof value, 'string', `${where}: header value is a string`);
  assert.match(name, HEADER_NAME, `${where}: bad header name ${JSON.stringify(name)}`);
  assert.ok(!HEADER_VALUE_BAD.test(value), `${where}: control character in ${name}: ${JSON.stringify(value.slice(0, 200))}`);
}

function assertHeaders(where: string, pairs: readonly HeaderPair[]): void {
  assert.ok(Array.isArray(pairs), `${where} is an array`);
  for (const pair of pairs) {
    assert.equal(pair.length, 2, `${where}: a header is a [name, value] pair`);
    assertHeader(where, pair[0], pair[1]);
  }
}

export function assertDecisionWellFormed(d: Decision): void {
  assert.equal(typeof d.allow, 'boolean', 'allow is a boolean');
  assert.ok(REASON_CODES.includes(d.reason), `reason ${JSON.stringify(d.reason)} is registered`);
  assert.equal(REASONS[d.reason].allow, d.allow, `reason ${d.reason} agrees with allow=${d.allow}`);
  assert.ok(Number.isInteger(d.status), 'status is an integer');
  for (const key of ['message', 'requestId', 'ruleId', 'ruleLabel', 'body'] as const) {
    assert.equal(typeof d[key], 'string', `${key} is a string`);
  }
  assertHeaders('responseHeaders', d.responseHeaders);
  for (const [k, v] of Object.entries(d.metadata)) assert.ok(typeof k === 'string' && typeof v === 'string', 'metadata is string → string');
  if (d.allow) {
    assert.equal(d.status, 200, 'allow ⇒ status 200');
    assert.ok(d.identity, 'allow ⇒ an identity (no route of the fuzz config is public)');
    assert.equal(d.body, '', 'allow ⇒ no body');
    assertHeaders('upstreamHeaders', d.upstreamHeaders);
    for (const name of d.upstreamHeadersToRemove) assert.match(name, HEADER_NAME, `upstreamHeadersToRemove: bad name ${JSON.stringify(name)}`);
    const set = new Set(d.upstreamHeaders.map(([n]) => n));
    for (const name of d.upstreamHeadersToRemove) assert.ok(!set.has(name), `${name} both set and removed`);
    return;
  }
  assert.ok(DENIAL_STATUSES.has(d.status), `denial status ${d.status} (${d.reason}) is an expected one`);
  assert.equal(d.upstreamHeaders.length, 0, 'deny ⇒ no upstream headers');
  const fromFlow = d.ruleId === 'login-flow';
  if (!fromFlow) assert.equal(d.status, REASONS[d.reason].status, `status ${d.status} matches reason ${d.reason}`);
  const header = (name: string) => d.responseHeaders.find(([n]) => n === name)?.[1];
  if (d.status === 302 || d.status === 303) assert.ok(header('location'), 'a redirect has a Location');
  if (d.status === 401 && !fromFlow) assert.ok(header('www-authenticate'), '401 ⇒ WWW-Authenticate');
  if (header('content-type') === 'application/json' && d.body !== '') {
    let doc: Record<string, unknown>;
    try {
      doc = JSON.parse(d.body) as Record<string, unknown>;
    } catch {
      assert.fail(`JSON denial body does not parse: ${d.body.slice(0, 200)}`);
    }
    if (!fromFlow) {
      assert.equal(doc.error, d.reason, 'JSON body names the reason');
      assert.equal(doc.requestId, d.requestId, 'JSON body carries the request id');
    }
  }
}

/** A CheckResponse as decoded from the wire: one of ok/denied, consistent status, valid headers. */
export function assertCheckResponseWellFormed(res: CheckResponseJs): void {
  const code = res.status?.code ?? 0;
  assert.ok(RPC_CODES.has(code), `gRPC status code ${code} is one the door uses`);
  const pairs = (list: { header?: { key?: string; value?: string } }[] | undefined) =>
    (list ?? []).map((o) => [o.header?.key ?? '', o.header?.value ?? ''] as const);
  if (code === 0) {
    assert.ok(res.ok_response && !res.denied_response, 'OK ⇒ ok_response only');
    assertHeaders('ok_response.headers', pairs(res.ok_response.headers));
    assertHeaders('ok_response.response_headers_to_add', pairs(res.ok_response.response_headers_to_add));
    for (const name of res.ok_response.headers_to_remove ?? []) assert.match(name, HEADER_NAME);
    return;
  }
  assert.ok(res.denied_response && !res.ok_response, 'not OK ⇒ denied_response only');
  assert.ok(DENIAL_STATUSES.has(res.denied_response.status?.code ?? 0), `denied HTTP status ${res.denied_response.status?.code}`);
  assertHeaders('denied_response.headers', pairs(res.denied_response.headers));
}
