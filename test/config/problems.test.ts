/**
 * Every problem at once, each with the key as written and its file line:
 * syntax, types, unknown authz keys, enums, durations, secrets; hostile input.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { load, problemsOf, where, yamlLines } from './config-problems.js';

describe('config problems', () => {  test('a file with 5 different mistakes reports all 5 with their lines', () => {
    const problems = problemsOf(
      yamlLines(
        'kestra:', //                                       1
        '  encryption:', //                                 2
        '  security:', //                                   3
        '    login:', //                                    4
        '      failed-attempts:', //                        5
        '        lock-duration: 30 minutes', //             6  bad duration
        'authz:', //                                        7
        '  listen:', //                                     8
        '    grpc: 0.0.0.0:99999', //                       9  bad port
        '  default: maybe', //                              10 bad enum
        '  roles:', //                                      11
        '    - name: ops', //                               12
        '      permissions: { FLOW: [READ] }', //           13
        '  bindings:', //                                   14
        '    - { group: ops, role: operator }', //          15 unknown role
        '  rules:', //                                      16
        '    - match: { path: "reports/**" }', //           17 bad path template
        '      allow: public', //                           18
      ),
    );
    assert.deepEqual(where(problems), [
      ['kestra.security.login.failed-attempts.lock-duration', 6],
      ['authz.listen.grpc', 9],
      ['authz.default', 10],
      ['authz.bindings[0].role', 15],
      ['authz.rules[0].match.path', 17],
    ]);
    assert.match(problems[0]!.message, /ISO-8601/);
    assert.match(problems[1]!.message, /port/);
    assert.match(problems[2]!.message, /public \| authenticated \| deny/);
    assert.match(problems[3]!.message, /"operator" is not defined/);
    assert.match(problems[4]!.message, /must start with "\/"/);
  });

  test('an unknown key under authz names the key and its line', () => {
    const problems = problemsOf(yamlLines('authz:', '  default: public', '  bearer:', '    clock-skw: 30s', '  tokenCache: 5'));
    assert.deepEqual(where(problems), [
      ['authz.bearer.clock-skw', 4],
      ['authz.tokenCache', 5],
    ]);
    assert.match(problems[0]!.message, /unknown key/);
  });

  test('YAML syntax errors are reported with their line', () => {
    const problems = problemsOf(yamlLines('authz:', '  default: public', '  rules: [', '  users: {'));
    assert.ok(problems.length >= 1);
    assert.ok(problems.every((p) => p.key === '(yaml)' && typeof p.line === 'number'));
  });

  test('a secret shorter than 32 bytes is rejected, and the value never appears in the message', () => {
    const short = 'short-secret-123';
    const problems = problemsOf(yamlLines('kestra:', '  encryption:', `    secret-key: ${short}`));
    assert.deepEqual(where(problems), [['kestra.encryption.secret-key', 3]]);
    assert.match(problems[0]!.message, /32 bytes/);
    assert.ok(!JSON.stringify(problems).includes(short));
    const override = problemsOf(
      yamlLines('micronaut:', '  security:', '    token:', '      jwt:', '        generator:', '          refresh-token:', '            secret: tooShort'),
    );
    assert.deepEqual(where(override), [['micronaut.security.token.jwt.generator.refresh-token.secret', 7]]);
  });

  test('wrong types name what was expected', () => {
    const problems = problemsOf(yamlLines('authz:', '  roles: developer', '  kestra-rules: sometimes', '  token-cache-size: -1', '  log: { level: loud }'));
    assert.deepEqual(where(problems), [
      ['authz.roles', 2],
      ['authz.kestra-rules', 3],
      ['authz.token-cache-size', 4],
      ['authz.log.level', 5],
    ]);
    assert.match(problems[0]!.message, /must be a list, not a string/);
  });

  test('a non-map document is one problem', () => {
    assert.deepEqual(where(problemsOf('- a\n- b\n')), [['(root)', 1]]);
  });

  test('never throws anything but ConfigError on hostile input', () => {
    const inputs = [
      'authz: &a [*a]\n',
      'a: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: [*c,*c,*c,*c,*c,*c,*c,*c,*c]\nauthz: 1\n',
      'authz:\n  __proto__: { polluted: true }\n',
      'authz:\n  roles:\n    - name: r\n      permissions: { __proto__: [READ] }\n',
      '? [complex, key]\n: 1\nauthz: {}\n',
      'authz: !!binary aGVsbG8=\n',
      '\u0000\u0001',
    ];
    for (const text of inputs) {
      problemsOf(text);
    }
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
});
