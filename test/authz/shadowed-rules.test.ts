import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { findShadowedRules } from '../../src/authz/shadowed-rules.js';
import type { RuleConfig } from '../../src/config/types.js';

let line = 10;
const r = (id: string, path: string, extra: { methods?: string[]; host?: string } = {}): RuleConfig =>
  ({ id, match: { path, ...extra }, allow: 'public', line: line++ });

describe('findShadowedRules', () => {
  test('a ** prefix before a more specific template: warns, naming both rules and lines', () => {
    const warnings = findShadowedRules([r('reports-all', '/reports/**'), r('reports-ns', '/reports/{namespace}/x')]);
    assert.equal(warnings.length, 1);
    const w = warnings[0]!;
    assert.match(w, /"reports-ns" \(line \d+\) can never match/);
    assert.match(w, /"reports-all" \(line \d+\) comes first/);
  });

  test('/** before anything, identical templates, capture before literal, GET before HEAD-only', () => {
    assert.equal(findShadowedRules([r('all', '/**'), r('x', '/x'), r('y', '/y/{a}/**')]).length, 2);
    assert.equal(findShadowedRules([r('a', '/same/{x}'), r('b', '/same/{x}')]).length, 1);
    assert.equal(findShadowedRules([r('a', '/flows/{ns}'), r('b', '/flows/search')]).length, 1);
    assert.equal(findShadowedRules([r('a', '/x', { methods: ['GET'] }), r('b', '/x', { methods: ['HEAD'] })]).length, 1);
  });

  test('same-or-wider methods and hosts', () => {
    assert.equal(findShadowedRules([r('a', '/x'), r('b', '/x', { methods: ['POST'] })]).length, 1);
    assert.equal(findShadowedRules([r('a', '/x', { methods: ['GET', 'POST'] }), r('b', '/x', { methods: ['POST'] })]).length, 1);
    assert.equal(findShadowedRules([r('a', '/x'), r('b', '/x', { host: 'a.example.com' })]).length, 1);
    assert.equal(findShadowedRules([r('a', '/x', { host: '*.example.com' }), r('b', '/x', { host: 'a.example.com' })]).length, 1);
    assert.equal(findShadowedRules([r('a', '/x', { host: '*.example.com' }), r('b', '/x', { host: '*.a.example.com' })]).length, 1);
  });

  test('no warning when the later rule can still match something', () => {
    const none = (rules: RuleConfig[]) => assert.deepEqual(findShadowedRules(rules), [], rules.map((x) => x.match.path).join(' then '));
    none([r('a', '/reports/{namespace}/x'), r('b', '/reports/**')]);
    none([r('a', '/flows/search'), r('b', '/flows/{ns}')]);
    none([r('a', '/a/{x}'), r('b', '/a/**')]); // b also matches /a
    none([r('a', '/x', { methods: ['GET'] }), r('b', '/x')]);
    none([r('a', '/x', { methods: ['GET'] }), r('b', '/x', { methods: ['GET', 'POST'] })]);
    none([r('a', '/x', { host: 'a.example.com' }), r('b', '/x')]);
    none([r('a', '/x', { host: '*.example.com' }), r('b', '/x', { host: 'example.com' })]);
    none([r('a', '/x', { host: 'a.example.com' }), r('b', '/x', { host: '*.example.com' })]);
    none([r('a', '/a/b/**'), r('b', '/a/**')]);
    none([r('a', '/'), r('b', '/**')]);
  });

  test('rules that do not compile are skipped, not thrown on', () => {
    assert.deepEqual(findShadowedRules([r('bad', 'nope'), r('ok', '/x')]), []);
    assert.deepEqual(findShadowedRules([]), []);
  });

  test('one warning per hidden rule, naming the first rule that hides it', () => {
    const warnings = findShadowedRules([r('first', '/**'), r('second', '/a/**'), r('third', '/a/b')]);
    assert.equal(warnings.length, 2);
    assert.ok(warnings.every((w) => w.includes('"first"')));
  });

  test('a rule limited to some mTLS peers hides nothing; one after an open rule is hidden', () => {
    const peers = (id: string, path: string): RuleConfig => ({ id, match: { path, principals: ['spiffe://cluster.local/ns/a/sa/*'] }, allow: 'public', line: line++ });
    assert.equal(findShadowedRules([peers('a', '/x/**'), r('b', '/x/y')]).length, 0);
    assert.equal(findShadowedRules([r('a', '/x/**'), peers('b', '/x/y')]).length, 1);
  });
});
