import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { kestraApiRules } from '../../src/authz/kestra-api-rules.js';
import { matchPathTemplate, parsePathTemplate } from '../../src/authz/path-template.js';
import { compileRouteTable, matchRoute, routedPath, type RouteTable } from '../../src/authz/route-table.js';
import type { RuleAllow, RuleConfig } from '../../src/config/types.js';
import { ConfigError } from '../../src/core/errors.js';

function table(rules: RuleConfig[], opts: { kestraRules?: boolean; default?: RuleAllow } = {}): RouteTable {
  return compileRouteTable({ rules, kestraRules: opts.kestraRules ?? false, default: opts.default ?? 'authenticated' });
}
const rule = (id: string, match: RuleConfig['match'], effect: { allow: RuleAllow } | { require: string }, line?: number): RuleConfig =>
  ({ id, match, ...effect, ...(line === undefined ? {} : { line }) });

describe('compileRouteTable + matchRoute', () => {
  test('captures tenant and namespace; other captures are kept too', () => {
    const t = table([rule('r', { path: '/t/{tenant}/reports/{namespace}/{report}' }, { require: 'FLOW:READ' })]);
    const match = matchRoute(t, 'GET', 'h', '/t/main/reports/company.team/weekly');
    assert.equal(match.rule.id, 'r');
    assert.equal(match.tenant, 'main');
    assert.equal(match.namespace, 'company.team');
    assert.deepEqual(match.captures, { tenant: 'main', namespace: 'company.team', report: 'weekly' });
    assert.deepEqual(match.rule.require, { resource: 'FLOW', actions: ['READ'] });
    assert.equal(match.rule.label, 'FLOW:READ');
  });

  test('methods: listed ones only; GET also covers HEAD; no list = any', () => {
    const t = table([
      rule('get', { methods: ['GET'], path: '/x' }, { allow: 'public' }),
      rule('any', { path: '/x' }, { allow: 'deny' }),
    ]);
    assert.equal(matchRoute(t, 'GET', 'h', '/x').rule.id, 'get');
    assert.equal(matchRoute(t, 'HEAD', 'h', '/x').rule.id, 'get');
    assert.equal(matchRoute(t, 'POST', 'h', '/x').rule.id, 'any');
    assert.equal(matchRoute(t, 'DELETE', 'h', '/x').rule.id, 'any');
    assert.equal(matchRoute(t, 'get', 'h', '/x').rule.id, 'get');
  });

  test('hosts: exact (port and trailing dot ignored), *.suffix at any depth but not the bare domain', () => {
    const t = table([
      rule('exact', { host: 'API.example.com', path: '/**' }, { allow: 'public' }),
      rule('wild', { host: '*.example.com', path: '/**' }, { allow: 'deny' }),
    ]);
    assert.equal(matchRoute(t, 'GET', 'api.example.com', '/a').rule.id, 'exact');
    assert.equal(matchRoute(t, 'GET', 'api.example.com:8443', '/a').rule.id, 'exact');
    assert.equal(matchRoute(t, 'GET', 'api.example.com.', '/a').rule.id, 'exact');
    assert.equal(matchRoute(t, 'GET', 'API.Example.com', '/a').rule.id, 'exact');
    assert.equal(matchRoute(t, 'GET', 'x.example.com', '/a').rule.id, 'wild');
    assert.equal(matchRoute(t, 'GET', 'a.b.example.com:80', '/a').rule.id, 'wild');
    assert.equal(matchRoute(t, 'GET', 'example.com', '/a').rule.id, 'default');
    assert.equal(matchRoute(t, 'GET', 'evilexample.com', '/a').rule.id, 'default');
    assert.equal(matchRoute(t, 'GET', 'api.example.com.evil.net', '/a').rule.id, 'default');
    assert.equal(matchRoute(t, 'GET', '[::1]:8080', '/a').rule.id, 'default');
  });

  test('first match wins, in order: user rules, Kestra rules, default', () => {
    const t = table([
      rule('first', { path: '/api/v1/{tenant}/flows/**' }, { allow: 'deny' }),
      rule('second', { path: '/api/v1/{tenant}/flows/search' }, { allow: 'public' }),
    ], { kestraRules: true, default: 'deny' });
    assert.equal(matchRoute(t, 'GET', 'h', '/api/v1/main/flows/search').rule.id, 'first');
    const kestra = matchRoute(t, 'GET', 'h', '/api/v1/main/executions/search');
    assert.equal(kestra.rule.id, 'kestra:executions.search');
    assert.equal(kestra.rule.source, 'kestra');
    const fallback = matchRoute(t, 'GET', 'h', '/somewhere/else');
    assert.deepEqual([fallback.rule.id, fallback.rule.source, fallback.rule.allow, fallback.rule.label], ['default', 'default', 'deny', 'deny']);
    assert.deepEqual(t.rules.map((r) => r.source).filter((s, i, all) => all.indexOf(s) === i), ['user', 'kestra', 'default']);
  });

  test('kestra-rules off: the Kestra API falls to the default rule', () => {
    const t = table([], { kestraRules: false, default: 'public' });
    assert.equal(matchRoute(t, 'DELETE', 'h', '/api/v1/main/flows/a/b').rule.id, 'default');
    assert.equal(t.rules.length, 1);
  });

  test('requirements: case-normalized, alternatives, and "(any namespace)" labels', () => {
    const t = table([
      rule('a', { path: '/a/{namespace}' }, { require: 'flow:read' }),
      rule('b', { path: '/b' }, { require: 'EXECUTION:READ' }),
      rule('c', { path: '/c' }, { require: 'ROLE:*' }),
      rule('d', { path: '/d/{namespace}' }, { require: 'KVSTORE:CREATE|UPDATE' }),
    ]);
    assert.equal(matchRoute(t, 'GET', 'h', '/a/x').rule.label, 'FLOW:READ');
    assert.equal(matchRoute(t, 'GET', 'h', '/b').rule.label, 'EXECUTION:READ (any namespace)');
    assert.equal(matchRoute(t, 'GET', 'h', '/c').rule.label, 'ROLE:*');
    assert.deepEqual(matchRoute(t, 'GET', 'h', '/d/x').rule.require, { resource: 'KVSTORE', actions: ['CREATE', 'UPDATE'] });
  });

  test('matches without captures return the same frozen object (no allocation)', () => {
    const t = table([rule('a', { path: '/healthz' }, { allow: 'public' })]);
    const one = matchRoute(t, 'GET', 'h', '/healthz');
    assert.equal(one, matchRoute(t, 'GET', 'h', '/healthz'));
    assert.ok(Object.isFrozen(one));
    assert.equal(matchRoute(t, 'GET', 'h', '/nope'), matchRoute(t, 'GET', 'h', '/other'));
  });

  test('bad rules: one ConfigError listing every problem with key and line', () => {
    assert.throws(() => table([
      rule('ok', { path: '/ok' }, { allow: 'public' }),
      rule('bad-path', { path: 'no-slash' }, { allow: 'public' }, 7),
      rule('bad-require', { path: '/x' }, { require: 'FLOW' }, 9),
      { id: 'both', match: { path: '/y' }, allow: 'public', require: 'FLOW:READ', line: 11 },
      rule('bad-host', { host: 'a.*.com', path: '/z' }, { allow: 'public' }),
      rule('bad-methods', { methods: [], path: '/z' }, { allow: 'public' }),
    ]), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.code, 'ERR_CONFIG_INVALID');
      assert.deepEqual(err.problems.map((p) => [p.key, p.line]), [
        ['authz.rules[1].match.path', 7],
        ['authz.rules[2].require', 9],
        ['authz.rules[3]', 11],
        ['authz.rules[4].match.host', undefined],
        ['authz.rules[5].match.methods', undefined],
      ]);
      return true;
    });
  });

  test('the index gives exactly what a plain first-match scan gives (Kestra rules + user rules, many paths)', () => {
    const userRules = [
      rule('u1', { path: '/api/v1/{tenant}/flows/{namespace}/special' }, { allow: 'deny' }),
      rule('u2', { methods: ['POST'], path: '/api/**' }, { allow: 'deny' }),
      rule('u3', { path: '/reports/{namespace}/**' }, { require: 'FLOW:READ' }),
      rule('u4', { path: '/*/v1/configs' }, { allow: 'deny' }),
      rule('u5', { path: '/' }, { allow: 'public' }),
    ];
    const t = table(userRules, { kestraRules: true });
    const words = ['api', 'v1', 'main', 'flows', 'executions', 'search', 'namespaces', 'kv', 'files', 'secrets', 'webhook',
      'restart', 'kill', 'by-ids', 'x', 'ui', 'static', 'reports', 'configs', 'auths', 'groups', 'members', 'logs', ''];
    const methods = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];
    // xorshift32: deterministic, stays within 32-bit integers.
    let seed = 0x2545f491;
    const next = (n: number) => { seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5; return (seed >>> 0) % n; };
    // A reference matcher: every rule in order, no index.
    const compiled = compileRulesForScan(userRules);
    for (let i = 0; i < 20000; i++) {
      // Half the paths start like Kestra's API so deep rules are exercised; the last segment may be '' (a trailing
      // slash, which matching drops: the reference scan sees the path without it too).
      const parts: string[] = next(2) === 0 ? ['api', 'v1', next(2) === 0 ? 'main' : words[next(words.length - 1)]!] : [];
      const depth = next(6);
      for (let d = 0; d < depth; d++) parts.push(words[next(words.length - (d === depth - 1 ? 0 : 1))]!);
      const path = '/' + parts.join('/');
      const method = methods[next(methods.length)]!;
      const expected = compiled.find((c) => (c.methods === null || c.methods.includes(method)) && c.matches(routedPath(path)))?.id ?? 'default';
      assert.equal(matchRoute(t, method, 'h', path).rule.id, expected, `${method} ${path}`);
    }
    assert.ok(t.rules.length > 50);
  });

  test('a large, heavily overlapping rule set compiles into a bounded index and still matches correctly', () => {
    let seed = 7;
    const next = (n: number) => { seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5; return (seed >>> 0) % n; };
    const rules: RuleConfig[] = [];
    for (let i = 0; i < 1500; i++) {
      const parts = Array.from({ length: 1 + next(8) }, (_, k) => ['{c' + k + '}', '*', 'l' + next(6), 'l' + next(6)][next(4)]!);
      rules.push(rule(`r${i}`, { path: '/' + parts.join('/') + (next(3) === 0 ? '/**' : '') }, { allow: 'public' }));
    }
    const t = table(rules);
    let copies = 0;
    const walk = (node: typeof t.index): void => {
      if (node.children === null) { copies += node.candidates.length; return; }
      for (const child of node.children.values()) walk(child);
      walk(node.other!);
      walk(node.end!);
    };
    walk(t.index);
    assert.ok(copies <= 34 * rules.length + 1024, `index holds ${copies} rule copies`);
    const scan = rules.map((r) => ({ id: r.id, template: parsePathTemplate(r.match.path) }));
    for (let i = 0; i < 2000; i++) {
      const path = '/' + Array.from({ length: next(9) }, () => 'l' + next(7)).join('/');
      const expected = scan.find((r) => matchPathTemplate(r.template, path) !== null)?.id ?? 'default';
      assert.equal(matchRoute(t, 'GET', 'h', path).rule.id, expected, path);
    }
  });
});

function compileRulesForScan(userRules: RuleConfig[]) {
  return [...userRules, ...kestraApiRules()].map((r) => {
    const template = parsePathTemplate(r.match.path);
    const methods = r.match.methods ? [...r.match.methods, ...(r.match.methods.includes('GET') ? ['HEAD'] : [])] : null;
    return { id: r.id, methods, matches: (path: string) => matchPathTemplate(template, path) !== null };
  });
}
