/**
 * SPIFFE ids and the patterns `match.principals` and `service` bindings use:
 * what is an id, and the wildcard semantics as a table (`*` = exactly one
 * segment, trailing `**` = one or more, trust domain literal).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compilePrincipalPattern, isSpiffeId, parseSpiffeId, principalMatches, spiffeIdProblem } from '../../src/authz/spiffe-id.js';

test('valid SPIFFE ids', () => {
  for (const id of [
    'spiffe://cluster.local/ns/kestra/sa/worker',
    'spiffe://cluster.local',
    'spiffe://example.org/a_b/C-d/e.f',
  ]) assert.equal(spiffeIdProblem(id), undefined, id);
  assert.deepEqual(parseSpiffeId('spiffe://cluster.local/ns/kestra/sa/worker'), { trustDomain: 'cluster.local', segments: ['ns', 'kestra', 'sa', 'worker'] });
});

test('what is not a SPIFFE id, and why', () => {
  const cases: [unknown, RegExp][] = [
    ['https://cluster.local/ns/kestra', /spiffe:\/\//],
    ['SPIFFE://cluster.local/ns', /spiffe:\/\//],
    ['spiffe:///ns/kestra', /trust domain/],
    ['spiffe://Cluster.Local/ns', /trust domain/],
    ['spiffe://cluster.local:8443/ns', /trust domain/],
    ['spiffe://user@cluster.local/ns', /trust domain/],
    ['spiffe://cluster.local/ns//sa', /empty/],
    ['spiffe://cluster.local/ns/', /empty/],
    ['spiffe://cluster.local/ns/../sa', /"\.\."/],
    ['spiffe://cluster.local/ns?x=1', /query/],
    ['spiffe://cluster.local/ns%2Fsa', /percent/],
    ['spiffe://cluster.local/sa/*', /letters/],
    [`spiffe://cluster.local/${'a'.repeat(2100)}`, /2048/],
    [42, /SPIFFE id/],
  ];
  for (const [text, why] of cases) assert.match(spiffeIdProblem(text) ?? 'valid', why, String(text).slice(0, 60));
});

test('wildcard semantics, as a table', () => {
  const table: [pattern: string, id: string, matches: boolean][] = [
    // literal: exactly that id
    ['spiffe://cluster.local/ns/kestra/sa/worker', 'spiffe://cluster.local/ns/kestra/sa/worker', true],
    ['spiffe://cluster.local/ns/kestra/sa/worker', 'spiffe://cluster.local/ns/kestra/sa/worker2', false],
    ['spiffe://cluster.local/ns/kestra/sa/worker', 'spiffe://cluster.local/ns/kestra/sa/Worker', false],
    ['spiffe://cluster.local/ns/kestra/sa/worker', 'spiffe://cluster.local/ns/kestra/sa/worker/x', false],
    // * = exactly one segment
    ['spiffe://cluster.local/ns/kestra/sa/*', 'spiffe://cluster.local/ns/kestra/sa/worker', true],
    ['spiffe://cluster.local/ns/kestra/sa/*', 'spiffe://cluster.local/ns/kestra/sa', false],
    ['spiffe://cluster.local/ns/kestra/sa/*', 'spiffe://cluster.local/ns/kestra/sa/worker/extra', false],
    ['spiffe://cluster.local/ns/*/sa/worker', 'spiffe://cluster.local/ns/other/sa/worker', true],
    ['spiffe://cluster.local/ns/*/sa/worker', 'spiffe://cluster.local/ns/a/b/sa/worker', false],
    // ** = one or more trailing segments
    ['spiffe://cluster.local/ns/kestra/**', 'spiffe://cluster.local/ns/kestra/sa/worker', true],
    ['spiffe://cluster.local/ns/kestra/**', 'spiffe://cluster.local/ns/kestra/sa', true],
    ['spiffe://cluster.local/ns/kestra/**', 'spiffe://cluster.local/ns/kestra', false],
    ['spiffe://cluster.local/ns/kestra/**', 'spiffe://cluster.local/ns/kestra-evil/sa/worker', false],
    ['spiffe://cluster.local/**', 'spiffe://cluster.local/anything/at/all', true],
    ['spiffe://cluster.local/**', 'spiffe://cluster.local', false],
    // the trust domain is literal: another mesh never matches
    ['spiffe://cluster.local/ns/kestra/sa/*', 'spiffe://evil.local/ns/kestra/sa/worker', false],
    ['spiffe://cluster.local/**', 'spiffe://cluster.local.evil/ns/kestra', false],
    // a request principal that is not an id matches nothing
    ['spiffe://cluster.local/ns/kestra/sa/*', 'spiffe://cluster.local/ns/kestra/sa/*', false],
    ['spiffe://cluster.local/ns/kestra/sa/*', 'spiffe://cluster.local/ns/kestra/sa/a b', false],
    ['spiffe://cluster.local/**', 'not-an-id', false],
  ];
  for (const [pattern, id, expected] of table) {
    assert.equal(principalMatches(compilePrincipalPattern(pattern), id), expected, `${pattern} ~ ${id}`);
  }
});

test('patterns refused, with a reason', () => {
  const cases: [string, RegExp][] = [
    ['spiffe://*.local/ns/kestra', /trust domain cannot hold a wildcard/],
    ['spiffe://cluster.local/ns/kestra/sa/ci-*', /whole segment/],
    ['spiffe://cluster.local/**/sa/worker', /last segment/],
    ['spiffe://cluster.local/ns/kestra/', /empty/],
    ['cluster.local/ns/kestra', /spiffe:\/\//],
  ];
  for (const [pattern, why] of cases) assert.throws(() => compilePrincipalPattern(pattern), why, pattern);
});

test('the doors\' allocation-free check agrees with the parser', () => {
  for (const text of [
    'spiffe://cluster.local/ns/kestra/sa/worker', 'spiffe://cluster.local', 'spiffe://a/./b', 'spiffe://a/../b', 'spiffe://a/b/..',
    'spiffe://a/.hidden', 'spiffe://a/..x', 'spiffe://a/b/', 'spiffe://A/b', 'spiffe://a//b', 'spiffe://a/b?c', 'spiffe://', 'spiffe:///x',
    'spiffe://a/b c', `spiffe://${'t'.repeat(256)}/x`, `spiffe://t/${'s'.repeat(2100)}`, 'SPIFFE://a/b', 'spiffe://a:1/b',
  ]) assert.equal(isSpiffeId(text), parseSpiffeId(text) !== undefined, text.slice(0, 60));
});
