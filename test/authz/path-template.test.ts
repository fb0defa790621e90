import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { matchPathTemplate, parsePathTemplate, PathTemplateError, templateCovers } from '../../src/authz/path-template.js';

const m = (template: string, path: string) => matchPathTemplate(parsePathTemplate(template), path);

describe('parsePathTemplate', () => {
  test('splits literals, captures, wildcards and a trailing **', () => {
    const t = parsePathTemplate('/api/{tenant}/*/x/**');
    assert.deepEqual(t.segments.map((s) => s.kind), ['literal', 'capture', 'wildcard', 'literal']);
    assert.equal(t.rest, true);
    assert.deepEqual(t.captureNames, ['tenant']);
    assert.ok(Object.isFrozen(t));
  });

  for (const [template, why] of [
    ['', 'empty'],
    ['api/x', 'no leading slash'],
    ['/a/**/b', '** not last'],
    ['/a//b', 'empty segment'],
    ['/a/', 'trailing slash'],
    ['/a/{b', 'half a capture'],
    ['/a/x{b}', 'literal mixed with capture'],
    ['/a/{}', 'empty capture name'],
    ['/a/{__proto__}', 'capture name starting with _'],
    ['/a/{x}/{x}', 'duplicate capture'],
    ['/a/../b', 'dot-dot'],
    ['/a/b*', 'partial wildcard'],
    ['/a/b c', 'whitespace'],
  ] as const) {
    test(`rejects ${JSON.stringify(template)} (${why}) with a typed error`, () => {
      assert.throws(() => parsePathTemplate(template), (err: unknown) => err instanceof PathTemplateError && err.code === 'ERR_PATH_TEMPLATE');
    });
  }
});

describe('matchPathTemplate', () => {
  test('literals are exact and case-sensitive', () => {
    assert.deepEqual(m('/api/flows', '/api/flows'), {});
    assert.equal(m('/api/flows', '/api/Flows'), null);
    assert.equal(m('/api/flows', '/api/flowsx'), null);
    assert.equal(m('/api/flows', '/api/flow'), null);
    assert.equal(m('/api/flows', '/api'), null);
    assert.equal(m('/api/flows', '/api/flows/x'), null);
  });

  test('{name} captures exactly one non-empty segment', () => {
    assert.deepEqual(m('/flows/{namespace}/{id}', '/flows/company.team/hello'), { namespace: 'company.team', id: 'hello' });
    assert.equal(m('/flows/{namespace}/{id}', '/flows/company.team'), null);
    assert.equal(m('/flows/{namespace}/{id}', '/flows/a/b/c'), null);
    assert.equal(m('/flows/{namespace}/{id}', '/flows//b'), null);
  });

  test('* matches one segment without capturing', () => {
    assert.deepEqual(m('/x/*/y', '/x/anything/y'), {});
    assert.equal(m('/x/*/y', '/x/y'), null);
    assert.equal(m('/x/*/y', '/x/a/b/y'), null);
  });

  test('** matches zero or more remaining segments', () => {
    assert.deepEqual(m('/ui/**', '/ui'), {});
    assert.deepEqual(m('/ui/**', '/ui/main/flows/x'), {});
    assert.equal(m('/ui/**', '/uix'), null);
    assert.equal(m('/ui/**', '/u'), null);
    assert.deepEqual(m('/**', '/'), {});
    assert.deepEqual(m('/**', '/anything/at/all'), {});
    assert.deepEqual(m('/r/{namespace}/**', '/r/prod/a/b'), { namespace: 'prod' });
    assert.equal(m('/r/{namespace}/**', '/r'), null);
  });

  test('a trailing slash is tolerated only by templates ending in **', () => {
    assert.equal(m('/api/flows', '/api/flows/'), null);
    assert.equal(m('/a/{x}', '/a/b/'), null);
    assert.deepEqual(m('/ui/**', '/ui/'), {});
    assert.deepEqual(m('/r/{namespace}/**', '/r/prod/'), { namespace: 'prod' });
  });

  test('the template / matches only /', () => {
    assert.deepEqual(m('/', '/'), {});
    assert.equal(m('/', '/a'), null);
  });

  test('non-absolute paths never match', () => {
    assert.equal(m('/**', ''), null);
    assert.equal(m('/**', '*'), null);
  });

  test('captures are fresh objects; no-capture matches share one frozen object', () => {
    const a = m('/a/{x}', '/a/1');
    const b = m('/a/{x}', '/a/2');
    assert.deepEqual([a, b], [{ x: '1' }, { x: '2' }]);
    assert.ok(Object.isFrozen(m('/a', '/a')));
  });
});

describe('templateCovers', () => {
  const covers = (a: string, b: string) => templateCovers(parsePathTemplate(a), parsePathTemplate(b));
  test('positive cases', () => {
    assert.ok(covers('/**', '/anything/{x}'));
    assert.ok(covers('/**', '/'));
    assert.ok(covers('/reports/**', '/reports/{namespace}/x'));
    assert.ok(covers('/reports/**', '/reports/**'));
    assert.ok(covers('/reports/**', '/reports'));
    assert.ok(covers('/a/{x}', '/a/b'));
    assert.ok(covers('/a/*', '/a/{y}'));
    assert.ok(covers('/a/{x}/**', '/a/b/c/**'));
    assert.ok(covers('/a/b', '/a/b'));
  });
  test('negative cases', () => {
    assert.ok(!covers('/reports/{namespace}/x', '/reports/**'));
    assert.ok(!covers('/a/b', '/a/{x}'));
    assert.ok(!covers('/a/{x}', '/a/**'), '/a/** also matches /a');
    assert.ok(!covers('/a/b/**', '/a/**'));
    assert.ok(!covers('/a/{x}', '/a/b/c'));
    assert.ok(!covers('/a/**', '/'));
    assert.ok(!covers('/', '/**'));
    assert.ok(!covers('/a/b', '/a/c'));
  });
});
