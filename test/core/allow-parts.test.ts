/**
 * AllowPartsMemo: an allow for a repeated (token-cache hit) identity reuses frozen identity
 * headers and metadata per (rule, reason, tenant), and the gRPC door reuses
 * the encoded answer for them — with exactly the bytes a fresh encoding
 * gives. Requests whose cookie header must be rewritten are never memoized.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileHeaderPolicy } from '../../src/core/header-policy.js';
import { allow as allowing, AllowPartsMemo, type RespondContext } from '../../src/core/respond.js';
import { NO_HEADERS, type Decision } from '../../src/core/decision.js';
import { createAuthRequest } from '../../src/core/auth-request.js';
import type { Identity } from '../../src/core/identity.js';
import type { Config } from '../../src/config/types.js';
import { encodeCheckResponse } from '../../src/server/check-response-wire.js';

/** Without an identity token the answer is synchronous. */
function allow(...args: Parameters<typeof allowing>): Decision {
  const decision = allowing(...args);
  assert.ok(!(decision instanceof Promise), 'an allow without an identity token is synchronous');
  return decision;
}

const headers = compileHeaderPolicy({
  headers: { user: 'x-kestra-user', email: 'x-kestra-email', groups: 'x-kestra-groups', tenant: 'x-kestra-tenant' },
  cookie: { name: 'JWT' },
} as unknown as Config);
const memoized: RespondContext = { headers, realm: 'r', basicEnabled: false, loginRedirect: null, allowParts: new AllowPartsMemo() };
const plain: RespondContext = { headers, realm: 'r', basicEnabled: false, loginRedirect: null };
const rule = { id: 'kestra:flows.read', label: 'FLOW:READ' };
const alice: Identity = { via: 'bearer', subject: 'u-1', name: 'alice', email: 'alice@example.com', groups: ['devs'] };

function request(cookie?: string) {
  return createAuthRequest({ method: 'GET', path: '/api/v1/main/flows/a/b', headers: cookie ? { cookie } : {} })!;
}

test('the same identity on the same rule gets the same frozen parts, and the same bytes as a fresh encoding', () => {
  const first = allow(memoized, request(), rule, 'permitted', alice, 'main', NO_HEADERS, true);
  const second = allow(memoized, request(), rule, 'permitted', alice, 'main', NO_HEADERS, true);
  assert.equal(second.upstreamHeaders, first.upstreamHeaders);
  assert.equal(second.metadata, first.metadata);
  assert.ok(Object.isFrozen(first.upstreamHeaders) && Object.isFrozen(first.metadata) && Object.isFrozen(first.upstreamHeadersToRemove));
  const fresh = allow(plain, request(), rule, 'permitted', alice, 'main');
  assert.deepEqual(second.upstreamHeaders, fresh.upstreamHeaders);
  assert.deepEqual(second.metadata, fresh.metadata);
  assert.deepEqual(Buffer.from(encodeCheckResponse(first)), Buffer.from(encodeCheckResponse(fresh)));
  assert.deepEqual(Buffer.from(encodeCheckResponse(second)), Buffer.from(encodeCheckResponse(fresh)));
});

test('another tenant, rule or identity gets its own parts', () => {
  const main = allow(memoized, request(), rule, 'permitted', alice, 'main', NO_HEADERS, true);
  const other = allow(memoized, request(), rule, 'permitted', alice, 'other', NO_HEADERS, true);
  assert.notEqual(other.upstreamHeaders, main.upstreamHeaders);
  assert.deepEqual(other.upstreamHeaders.find(([n]) => n === 'x-kestra-tenant'), ['x-kestra-tenant', 'other']);
  const bob = allow(memoized, request(), rule, 'permitted', { ...alice, subject: 'u-2', name: 'bob' }, 'main', NO_HEADERS, true);
  assert.deepEqual(bob.upstreamHeaders.find(([n]) => n === 'x-kestra-user'), ['x-kestra-user', 'bob']);
  assert.notDeepEqual(Buffer.from(encodeCheckResponse(bob)), Buffer.from(encodeCheckResponse(main)));
});

test('a request carrying our cookie is answered per request: the rewritten cookie header is its own', () => {
  const a = allow(memoized, request('JWT=s1; theme=dark'), rule, 'permitted', alice, 'main', NO_HEADERS, true);
  const b = allow(memoized, request('JWT=s1; lang=fr'), rule, 'permitted', alice, 'main', NO_HEADERS, true);
  assert.deepEqual(a.upstreamHeaders.find(([n]) => n === 'cookie'), ['cookie', 'theme=dark']);
  assert.deepEqual(b.upstreamHeaders.find(([n]) => n === 'cookie'), ['cookie', 'lang=fr']);
  assert.ok(!Object.isFrozen(a.upstreamHeaders));
});

test('many tenants from one identity stay correct past the per-identity bound', () => {
  for (let i = 0; i < 40; i++) {
    const d = allow(memoized, request(), rule, 'permitted', alice, `t${i}`, NO_HEADERS, true);
    assert.deepEqual(d.upstreamHeaders.find(([n]) => n === 'x-kestra-tenant'), ['x-kestra-tenant', `t${i}`]);
    const fresh = allow(plain, request(), rule, 'permitted', alice, `t${i}`);
    assert.deepEqual(Buffer.from(encodeCheckResponse(d)), Buffer.from(encodeCheckResponse(fresh)));
  }
});

test('an identity seen for the first time (a fresh verification) is not remembered', () => {
  const carol: Identity = { via: 'bearer', subject: 'u-3', name: 'carol', groups: [] };
  const first = allow(memoized, request(), rule, 'permitted', carol, 'main');
  const second = allow(memoized, request(), rule, 'permitted', carol, 'main');
  assert.notEqual(second.upstreamHeaders, first.upstreamHeaders);
  assert.ok(!Object.isFrozen(first.upstreamHeaders));
  assert.deepEqual(second.upstreamHeaders, first.upstreamHeaders);
});
