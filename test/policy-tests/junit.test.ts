/**
 * The JUnit report is well-formed whatever a case name holds: markup
 * characters escaped, characters XML 1.0 cannot carry replaced, counts right.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { junitXml } from '../../src/policy-tests/junit.js';
import type { LoadedCase } from '../../src/policy-tests/load-cases.js';
import type { SuiteResult } from '../../src/policy-tests/report.js';
import { elements, parseXml } from '../helpers/xml-structure.js';

function aCase(name: string, line?: number): LoadedCase {
  return { name, request: { method: 'GET', path: '/' }, anonymous: true, expect: { verdict: 'allow' }, ...(line === undefined ? {} : { line }) };
}

test('names with markup, control characters and non-characters still make well-formed XML', () => {
  const suite: SuiteResult = {
    file: 'a&b <suite>.yaml',
    configSource: '<embedded default>',
    results: [
      { case: aCase('bell \u0007 and \uFFFE and "quotes" \'too\'', 3), passed: true, mismatches: [], ruleId: 'x' },
      { case: aCase(']]> </testcase>'), passed: false, mismatches: [{ field: 'verdict', expected: '"allow"', actual: '403' }, { field: 'rule', expected: '"a"', actual: '"<b>"' }], ruleId: 'b' },
    ],
  };
  const root = parseXml(junitXml([suite]));
  assert.equal(root.attributes.tests, '2');
  assert.equal(root.attributes.failures, '1');
  const [suiteEl] = elements(root, 'testsuite');
  assert.equal(suiteEl!.attributes.name, 'a&b <suite>.yaml');
  const [property] = elements(suiteEl!, 'property');
  assert.equal(property!.attributes.value, '<embedded default>');
  const cases = elements(suiteEl!, 'testcase');
  assert.equal(cases[0]!.attributes.name, 'bell \uFFFD and \uFFFD and "quotes" \'too\'');
  assert.equal(cases[0]!.attributes.line, '3');
  assert.equal(cases[1]!.attributes.name, ']]> </testcase>');
  const [failure] = elements(cases[1]!, 'failure');
  assert.equal(failure!.attributes.message, 'verdict: expected "allow", got 403');
  assert.equal(failure!.text, 'verdict:\n  - expected: "allow"\n  + actual:   403\nrule:\n  - expected: "a"\n  + actual:   "<b>"');
});
