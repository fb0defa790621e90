/**
 * The gRPC door's own codec (check-request-wire, check-response-wire) against
 * proto-loader's generic one over Envoy's protos: for every request the wire
 * decoder gives the same AuthRequest as proto-loader's decode followed by
 * authRequestFromCheck, and every Decision encodes to bytes that proto-loader
 * decodes to exactly what checkResponseFor describes. Random requests and
 * decisions come from fast-check; malformed bytes must fail as errors, never
 * as a wrong request.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type * as grpc from '@grpc/grpc-js';
import { AUTHORIZATION_SERVICE, loadExtAuthzDefinition } from '../../src/server/envoy-protos.js';
import { authRequestFromCheck, type CheckRequestLike } from '../../src/server/check-request.js';
import { authRequestFromCheckBytes } from '../../src/server/check-request-wire.js';
import { checkResponseFor } from '../../src/server/check-response.js';
import { encodeCheckResponse } from '../../src/server/check-response-wire.js';
import type { AuthRequest } from '../../src/core/auth-request.js';
import type { Decision } from '../../src/core/decision.js';
import { REASONS, type ReasonCode } from '../../src/core/reasons.js';
import { envoyCheckRequest } from '../helpers/envoy-check-request.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const check = (loadExtAuthzDefinition()[AUTHORIZATION_SERVICE] as grpc.ServiceDefinition).Check!;

/** AuthRequest as comparable plain data (header objects differ only in prototype). */
function plain(req: AuthRequest | null) {
  return req && { ...req, headers: { ...req.headers }, cookies: [...req.cookies] };
}

function viaProtoLoader(bytes: Buffer) {
  return plain(authRequestFromCheck(check.requestDeserialize(bytes) as CheckRequestLike));
}

test('an Envoy-shaped request decodes the same through both codecs', () => {
  const shaped = envoyCheckRequest({
    method: 'POST',
    path: '/api/v1/main/flows/company.team?page=2',
    host: 'kestra.example.com',
    headers: { authorization: 'Bearer abc.def.ghi', cookie: 'a=1; b=2', 'X-Mixed': ['one', 'two'] },
    sourceAddress: '203.0.113.9:51234',
    contextExtensions: { tenant: 'main' },
  });
  const bytes = check.requestSerialize(shaped);
  const wire = plain(authRequestFromCheckBytes(bytes));
  assert.deepEqual(wire, viaProtoLoader(bytes));
  assert.equal(wire!.sourceAddress, '203.0.113.9');
  assert.equal(wire!.path, '/api/v1/main/flows/company.team');
  assert.equal(wire!.headers.authorization, 'Bearer abc.def.ghi');
});

test('the source peer\'s principal, or its certificate\'s URI SAN, decodes the same through both codecs', () => {
  const pem = readFileSync(join(process.cwd(), 'test/fixtures/tls/spiffe-worker.pem'), 'utf8');
  for (const init of [
    { sourcePrincipal: 'spiffe://cluster.local/ns/kestra/sa/ci-runner' },
    { sourceCertificatePem: pem },
    { sourcePrincipal: 'spiffe://cluster.local/ns/kestra/sa/ci-runner', sourceCertificatePem: pem },
    { sourcePrincipal: 'CN=not a spiffe id' },
  ]) {
    const bytes = check.requestSerialize(envoyCheckRequest({ path: '/api/v1/main/flows', ...init }));
    const wire = plain(authRequestFromCheckBytes(bytes));
    assert.deepEqual(wire, viaProtoLoader(bytes));
    const expected = init.sourcePrincipal?.startsWith('spiffe://') ? init.sourcePrincipal : init.sourcePrincipal ? '' : 'spiffe://cluster.local/ns/kestra/sa/worker';
    assert.equal(wire!.peerPrincipal, expected, JSON.stringify(Object.keys(init)));
  }
});

const token = fc.string({ unit: 'grapheme-ascii', maxLength: 40 });
const WORKER_PEM = readFileSync(join(process.cwd(), 'test/fixtures/tls/spiffe-worker.pem'), 'utf8');
const principal = fc.oneof(fc.constantFrom('spiffe://cluster.local/ns/kestra/sa/worker', 'spiffe://cluster.local', 'spiffe://x/../y', ''), token);
const certificate = fc.oneof(fc.constantFrom(encodeURIComponent(WORKER_PEM), WORKER_PEM, '%zz', ''), token);
const headerKey = fc.oneof(fc.constantFrom(':path', ':method', ':authority', ':scheme', 'host', 'cookie', 'authorization', 'x-request-id', 'x-forwarded-proto', 'Authorization', 'COOKIE'), token);
const httpRequest = fc.record({
  id: fc.option(token, { nil: undefined }),
  method: fc.option(fc.constantFrom('GET', 'post', 'PUT', ''), { nil: undefined }),
  path: fc.option(fc.oneof(fc.constantFrom('/', '/api/v1/main/flows/a.b', '/x/../y?q=1', '//a/%2e%2e/b', 'relative', ''), token.map((t) => `/${t}`)), { nil: undefined }),
  host: fc.option(token, { nil: undefined }),
  scheme: fc.option(fc.constantFrom('http', 'https', 'HTTPS', ''), { nil: undefined }),
  headers: fc.option(fc.dictionary(headerKey, token, { maxKeys: 8 }), { nil: undefined }),
  header_map: fc.option(fc.record({
    headers: fc.array(fc.record({
      key: headerKey,
      value: fc.option(token, { nil: undefined }),
      raw_value: fc.option(fc.uint8Array({ maxLength: 12 }), { nil: undefined }),
    }), { maxLength: 8 }),
  }), { nil: undefined }),
  body: fc.option(token, { nil: undefined }),
  raw_body: fc.option(fc.uint8Array({ maxLength: 16 }), { nil: undefined }),
}, { requiredKeys: [] });
const checkRequest = fc.record({
  attributes: fc.option(fc.record({
    source: fc.option(fc.record({
      address: fc.record({ socket_address: fc.record({ address: fc.ipV4(), port_value: fc.nat(65535) }) }),
      principal: fc.option(principal, { nil: undefined }),
      certificate: fc.option(certificate, { nil: undefined }),
    }, { requiredKeys: ['address'] }), { nil: undefined }),
    request: fc.option(fc.record({ http: fc.option(httpRequest, { nil: undefined }) }, { requiredKeys: [] }), { nil: undefined }),
    context_extensions: fc.option(fc.dictionary(token, token, { maxKeys: 3 }), { nil: undefined }),
  }, { requiredKeys: [] }), { nil: undefined }),
}, { requiredKeys: [] });

test('random CheckRequests decode the same through both codecs', () => {
  fc.assert(fc.property(checkRequest, (request) => {
    const bytes = check.requestSerialize(request);
    assert.deepEqual(plain(authRequestFromCheckBytes(bytes)), viaProtoLoader(bytes));
  }), { numRuns: 3000 });
});

test('mutated bytes: the wire decoder returns a request or throws an Error, nothing else', () => {
  const bytes = check.requestSerialize(envoyCheckRequest({ headers: { authorization: 'Bearer x.y.z' } }));
  fc.assert(fc.property(fc.nat(bytes.length - 1), fc.integer({ min: 0, max: 255 }), fc.nat(bytes.length), (at, byte, cut) => {
    const mutated = Buffer.from(bytes.subarray(0, Math.max(cut, at + 1)));
    mutated[at] = byte;
    try {
      const req = authRequestFromCheckBytes(mutated);
      assert.ok(req === null || typeof req.path === 'string');
    } catch (err) {
      assert.ok(err instanceof Error);
    }
  }), { numRuns: 3000 });
});

test('a string or nested message that runs past its parent is refused', () => {
  // attributes (field 1, len 5) holding request (field 4) that claims 100 bytes.
  assert.throws(() => authRequestFromCheckBytes(Buffer.from([0x0a, 0x05, 0x22, 0x64, 0x12, 0x00, 0x00])), RangeError);
  // a method string claiming more bytes than the http message has.
  assert.throws(() => authRequestFromCheckBytes(Buffer.from([0x0a, 0x06, 0x22, 0x04, 0x12, 0x02, 0x12, 0x09])), RangeError);
});

const reason = fc.constantFrom(...(Object.keys(REASONS) as ReasonCode[]));
/**
 * Decisions whose free texts (message, rule label, header names removed) come
 * from `text` and whose values (header values, body, metadata values) from `value`.
 */
function decisionOf(text: fc.Arbitrary<string>, value: fc.Arbitrary<string>, maxPairs: number): fc.Arbitrary<Decision> {
  const pairs = fc.array(fc.tuple(token, value), { maxLength: maxPairs });
  return fc.record({
    allow: fc.boolean(),
    status: fc.constantFrom(200, 302, 400, 401, 403, 500, 503),
    reason,
    message: text,
    requestId: token,
    ruleId: token,
    ruleLabel: text,
    upstreamHeaders: pairs,
    upstreamHeadersToRemove: fc.array(text, { maxLength: 3 }),
    responseHeaders: pairs,
    body: value,
    // Metadata keys are ours (user, groups, rule, reason…); `__proto__` would only
    // show that the object-form reference drops it on a plain `{}`.
    metadata: fc.dictionary(token.filter((k) => k !== '__proto__'), value, { maxKeys: 5 }),
  });
}
const decision = decisionOf(token, token, 5);

test('every Decision encodes to what checkResponseFor describes', () => {
  fc.assert(fc.property(decision, (d) => {
    const expected = check.responseDeserialize(check.responseSerialize(checkResponseFor(d)));
    const actual = check.responseDeserialize(Buffer.from(encodeCheckResponse(d)));
    assert.deepEqual(actual, expected);
  }), { numRuns: 3000 });
});

// Long and non-ASCII values: lengths of 128 bytes and more take multi-byte varints (the
// encoder moves the content up), and UTF-8 lengths differ from string lengths.
const text = fc.string({ unit: 'grapheme', maxLength: 400 });
const wide = fc.oneof(text, fc.string({ unit: 'grapheme-ascii', minLength: 100, maxLength: 20_000 }));
const wideDecision = decisionOf(text, wide, 4);

test('long and non-ASCII values encode to what proto-loader writes, to the byte count', () => {
  fc.assert(fc.property(wideDecision, (d) => {
    const reference = Buffer.from(check.responseSerialize(checkResponseFor(d)));
    const ours = Buffer.from(encodeCheckResponse(d));
    assert.deepEqual(check.responseDeserialize(ours), check.responseDeserialize(reference));
    // Same size; the bytes themselves may differ only in the order of metadata entries
    // (ours sorted by key, proto-loader's in object key order, which puts "0" before "").
    assert.equal(ours.length, reference.length);
  }), { numRuns: 500 });
});

const deniedExample: Decision = {
  allow: false, status: 401, reason: 'token_expired', message: 'token expired', requestId: 'r-1', ruleId: 'api', ruleLabel: 'api',
  upstreamHeaders: [], upstreamHeadersToRemove: [], responseHeaders: [['www-authenticate', 'Bearer error="invalid_token"']],
  body: '', metadata: { reason: 'token_expired' },
};

test('answers do not share memory: each one keeps its bytes after the next is encoded', () => {
  const first = encodeCheckResponse({ ...deniedExample, body: 'first' });
  const copy = Buffer.from(first);
  encodeCheckResponse({ ...deniedExample, body: 'second, and longer than the first one' });
  assert.deepEqual(Buffer.from(first), copy);
});
