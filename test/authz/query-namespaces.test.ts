import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { checkQueryNamespaces, compileAccessPolicy, grantsFor, type Grants } from '../../src/authz/access-policy.js';
import { queryNamespaces } from '../../src/authz/query-namespaces.js';
import { parseRequirement } from '../../src/authz/requirement.js';
import { compileRouteTable, matchRoute } from '../../src/authz/route-table.js';
import { ConfigError } from '../../src/core/errors.js';

describe('queryNamespaces: the namespaces a search can return, read from its query', () => {
  const bounded: [string, string[]][] = [
    ['namespace=company.team', ['company.team']],
    ['page=1&size=25&namespace=company.team&sort=id:asc', ['company.team']],
    ['namespace=company.team&namespace=company.other', ['company.team', 'company.other']],
    ['namespace=company.team&namespace=company.team', ['company.team']],
    ['filters[namespace][EQUALS]=company.team', ['company.team']],
    ['filters%5Bnamespace%5D%5BPREFIX%5D=company.team', ['company.team']],
    ['filters[namespace][IN]=company.team,company.team.sub', ['company.team', 'company.team.sub']],
    ['namespace=company.team&filters[namespace][EQUALS]=company.other', ['company.team', 'company.other']],
    ['%6Eamespace=company.other', ['company.other']],
    ['namespace=%63ompany.other', ['company.other']],
    ['namespace=company.team;namespace=company.other', ['company.team', 'company.other']], // Netty splits on ';' too
    ['q=company.other&namespace=company.team', ['company.team']], // a free-text filter only narrows
  ];
  for (const [query, expected] of bounded) {
    test(`${query} → ${expected.join(', ')}`, () => assert.deepEqual(queryNamespaces(query), expected));
  }

  const unbounded = [
    '', 'page=1&size=25', 'q=company.team', 'sort=namespace:asc',
    'namespace=', 'namespace', 'namespace=company.%25', 'namespace=company.*', 'namespace=company+team', 'namespace=.company',
    'namespace=company.team&namespace=', 'namespace=company.team&namespace=bad%ZZ', 'namespace=%E0%A4%A',
    'Namespace=company.team', 'NAMESPACE=company.team', 'namespace=company.team&NameSpace=company.other',
    'filters[namespace][NOT_EQUALS]=company.other', 'filters[namespace][CONTAINS]=team', 'filters[namespace][REGEX]=.*',
    'filters[namespace][STARTS_WITH]=company.team', 'filters[namespace][equals]=company.team', 'filters[namespace][ENDS_WITH]=team',
    'namespace=company.team&filters[namespace][NOT_IN]=company.other',
    'filters[namespace][EQUALS][x]=company.team', 'filters[namespace]=company.team',
    'filters[0][field]=namespace&filters[0][operation]=EQUALS&filters[0][value]=company.team',
    'filters[namespace][IN]=company.team,', 'filters[namespace][IN]=company.team,company.%',
    `${'a=1&'.repeat(300)}namespace=company.team`,
  ];
  for (const query of unbounded) {
    test(`${JSON.stringify(query.slice(0, 80))} → unbounded`, () => assert.equal(queryNamespaces(query), null));
  }
});

describe('checkQueryNamespaces: every namespace a search can return must be granted', () => {
  const policy = compileAccessPolicy({
    roles: [{ name: 'developer', permissions: { FLOW: ['READ'], EXECUTION: ['READ'] } }],
    bindings: [
      { group: 'devs', role: 'developer', namespace: 'company.team' },
      { group: 'ops', role: 'developer' },
    ],
  });
  const grants = (group: string): Grants => grantsFor(policy, { via: 'bearer', subject: 's', name: 'n', groups: [group] }, 'main') as Grants;
  const flowRead = parseRequirement('FLOW:READ', { namespaceFrom: 'query' });
  const check = (group: string, query: string) => checkQueryNamespaces(grants(group), flowRead, queryNamespaces(query));

  test('a namespace-bound grant: its namespace and children only, never a broader prefix or an unbounded search', () => {
    assert.equal(check('devs', 'namespace=company.team').permitted, true);
    assert.equal(check('devs', 'namespace=company.team.sub').permitted, true);
    assert.equal(check('devs', 'filters[namespace][PREFIX]=company.team').permitted, true);
    for (const query of ['namespace=company.other', 'namespace=company', 'namespace=company.teamx', 'namespace=company.team&namespace=company.other']) {
      const result = check('devs', query);
      assert.equal(result.permitted, false, query);
      assert.match(result.missing ?? '', /^FLOW:READ in namespace company/, query);
      assert.ok(result.namespace?.startsWith('company'), query);
    }
    assert.equal(check('devs', 'namespace=company.other').namespace, 'company.other');
    const all = check('devs', '');
    assert.equal(all.permitted, false);
    assert.equal(all.missing, 'FLOW:READ in every namespace (a search without a namespace filter)');
    assert.equal(all.namespace, undefined);
    assert.equal(check('devs', 'NAMESPACE=company.team').permitted, false);
  });

  test('a grant not limited to a namespace may search everything', () => {
    for (const query of ['', 'namespace=company.other', 'namespace=company', 'filters[namespace][REGEX]=.*']) {
      assert.equal(check('ops', query).permitted, true, query);
    }
  });

  test('nobody without the permission at all', () => {
    const none = grantsFor(policy, { via: 'bearer', subject: 's', name: 'n', groups: [] }, 'main') as Grants;
    assert.equal(checkQueryNamespaces(none, flowRead, ['company.team']).permitted, false);
    assert.equal(checkQueryNamespaces(none, flowRead, null).permitted, false);
  });
});

describe('namespace-from: query on user rules', () => {
  test('compiles into the requirement and the label', () => {
    const table = compileRouteTable({
      rules: [{ id: 'reports', match: { methods: ['GET'], path: '/reports/search' }, require: 'FLOW:READ', namespaceFrom: 'query' }],
      kestraRules: false, default: 'deny',
    });
    const rule = matchRoute(table, 'GET', 'h', '/reports/search').rule;
    assert.equal(rule.require?.namespaceFrom, 'query');
    assert.equal(rule.label, 'FLOW:READ (namespaces from the query)');
  });

  test('only with require', () => {
    assert.throws(() => compileRouteTable({
      rules: [{ id: 'r', match: { path: '/x' }, allow: 'public', namespaceFrom: 'query' }], kestraRules: false, default: 'deny',
    }), (err: unknown) => err instanceof ConfigError && /namespace-from/.test(err.message));
  });
});
