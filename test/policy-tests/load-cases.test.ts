/**
 * The policy test file: read with the config's YAML rules, strict, every
 * problem listed with its line; header and claim names kept as written;
 * `null` in expected headers kept (it means "must be absent").
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { AuthzError } from '../../src/core/errors.js';
import { parseCases } from '../../src/policy-tests/load-cases.js';

function problemsOf(text: string): string {
  try {
    parseCases(text, 'cases.yaml', {});
  } catch (err) {
    assert.ok(err instanceof AuthzError);
    assert.equal(err.code, 'ERR_CASES_INVALID');
    return err.message;
  }
  assert.fail('expected the file to be refused');
}

describe('policy test file', () => {
  test('a good file: cases with their lines, config relative to the file, names as written, nulls kept', () => {
    const loaded = parseCases([
      'config: ../conf/authz.yaml',
      'cases:',
      '  - name: reads',
      '    claims: { sub: u1, preferredUsername: Ann, realm_access: { roles: [a] } }',
      '    request:',
      '      path: /api/v1/main/flows/a/b?x=1',
      '      headers: { X-Trace-Id: abc, Accept: text/html }',
      '    expect:',
      '      verdict: "403"',
      '      headers: { X-Kestra-User: null }',
      '  - name: public',
      '    anonymous: true',
      '    request: { method: post, path: /ping }',
      '    expect: { verdict: allow }',
    ].join('\n'), join('suite', 'cases.yaml'), {});
    assert.equal(loaded.configPath, resolve('conf', 'authz.yaml'));
    assert.equal(loaded.cases.length, 2);
    const [first, second] = loaded.cases;
    assert.equal(first!.line, 3);
    assert.deepEqual(first!.claims, { sub: 'u1', preferredUsername: 'Ann', realm_access: { roles: ['a'] } });
    assert.deepEqual(first!.request.headers, { 'X-Trace-Id': 'abc', Accept: 'text/html' });
    assert.equal(first!.request.method, 'GET');
    assert.equal(first!.expect.verdict, 403);
    assert.deepEqual(first!.expect.headers, { 'X-Kestra-User': null });
    assert.equal(second!.line, 11);
    assert.equal(second!.expect.verdict, 'allow');
  });

  test('every problem of every case is listed with its line; no value is echoed', () => {
    const message = problemsOf([
      'cases:',
      '  - name: typo',
      '    anonymous: true',
      '    request: { path: /ping }',
      '    expct: { verdict: allow }',
      '  - name: two identities',
      '    anonymous: true',
      '    user: bob',
      '    request: { path: relative-s3cr3t }',
      '    expect: { verdict: maybe-s3cr3t }',
      '  - name: groups without a user',
      '    claims: { sub: x }',
      '    groups: [a]',
      '    via: basic',
      '    request: { path: /x }',
      '    expect: { verdict: 401, colour: red }',
    ].join('\n'));
    assert.match(message, /invalid policy test file \(8 problems\)/);
    assert.match(message, /cases\.yaml:2: cases\[0\]\.expect: is required/);
    assert.match(message, /cases\.yaml:5: cases\[0\]\.expct: unknown key/);
    assert.match(message, /cases\.yaml:6: cases\[1\]: give exactly one identity/);
    assert.match(message, /cases\.yaml:9: cases\[1\]\.request\.path: must be an absolute path/);
    assert.match(message, /cases\.yaml:10: cases\[1\]\.expect\.verdict: must be allow or an HTTP status/);
    assert.match(message, /cases\.yaml:13: cases\[2\]\.groups: only with user/);
    assert.match(message, /cases\.yaml:14: cases\[2\]\.via: claims come from a token/);
    assert.match(message, /cases\.yaml:16: cases\[2\]\.expect\.colour: unknown key/);
    assert.doesNotMatch(message, /s3cr3t/);
  });

  test('no cases, a YAML syntax error, or a list at the top are problems too', () => {
    assert.match(problemsOf('cases: []\n'), /cases: needs at least 1 entry/);
    assert.match(problemsOf('cases:\n  - name: [unclosed\n'), /YAML syntax/);
    assert.match(problemsOf('- name: a\n'), /must be a map/);
  });
});
