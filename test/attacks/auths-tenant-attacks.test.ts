/**
 * A tenant named `auths` (or `configs`) never makes a protected route
 * public, through the real service (gRPC Check and the HTTP door): tenant
 * routes are checked first, a trailing slash cannot make them miss, and the
 * public `/api/v1/auths` rules reach one segment deep only, so a deeper route
 * of such a tenant that no built-in rule knows falls to `default`.
 * Identities: see route-shape-kit.ts.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ENDINGS, kestraRuleRequests } from '../helpers/kestra-rule-requests.js';
import { countedAs, expectRefused } from './attack-kit.js';
import { outcomeOf, routeShapeSuite } from './route-shape-kit.js';

const A = '/api/v1/main';

describe('a tenant named auths (real service)', () => {
  const svc = routeShapeSuite();
  const { viewer, dev, check } = svc;

  test('a tenant named auths (or configs) never makes a protected route public', async () => {
    // The request: anonymous → 401 (not public), viewer → 403, developer → allowed only in its namespace.
    const put = '/api/v1/auths/flows/company.team/f/';
    expectRefused(await countedAs('no_credentials', () => check('PUT', put)), 401, 'no_credentials');
    expectRefused(await check('PUT', put, viewer), 403, 'permission_denied');
    assert.equal(outcomeOf(await check('PUT', put, dev)).status, 200);
    expectRefused(await check('PUT', '/api/v1/auths/flows/company.other/f/', dev), 403, 'permission_denied');
    // Every route of the built-in set, under the tenants `auths` and `configs`, with every ending: never public.
    for (const tenant of ['auths', 'configs']) {
      for (const { method, path } of kestraRuleRequests()) {
        if (!path.startsWith(A) || path.includes('/executions/webhook/')) continue;
        for (const ending of ['', ...ENDINGS]) {
          const attack = `/api/v1/${tenant}${path.slice(A.length)}${ending}`;
          const seen = outcomeOf(await check(method, attack));
          assert.notEqual(seen.reason, 'public', `${method} ${attack} is ${JSON.stringify(seen)}`);
        }
      }
    }
    // Deeper routes of the tenant, known to the built-in rules or not: never the (one segment deep) public auths rules.
    for (const [method, attack] of [['GET', '/api/v1/auths/stats/executions/daily'], ['POST', '/api/v1/auths/flows/company.team/f'],
      ['DELETE', '/api/v1/auths/flows/company.team/f/revisions'], ['GET', '/api/v1/auths/namespaces/company.team/kv/k/'],
      ['PUT', '/api/v1/auths/login'], ['DELETE', '/api/v1/auths/x']] as const) {
      expectRefused(await check(method, attack), 401, 'no_credentials');
    }
    // What Kestra serves publicly under /api/v1/auths and /api/v1/configs stays public.
    for (const [method, path] of [['GET', '/api/v1/auths'], ['GET', '/api/v1/auths/'], ['POST', '/api/v1/auths/login'], ['GET', '/api/v1/configs'], ['GET', '/api/v1/configs/']] as const) {
      assert.equal(outcomeOf(await check(method, path)).reason, 'public', `${method} ${path}`);
    }
  });


  test('the HTTP door decides the same (ext_authz and forward-auth)', async () => {
    assert.deepEqual(await countedAs('no_credentials', () => svc.ask('/ext_authz/api/v1/auths/flows/company.team/f/', 'PUT'), 1, 'http'),
      { status: 401, error: 'no_credentials', namespace: undefined });
    assert.deepEqual(await svc.ask('/ext_authz/api/v1/auths/flows/company.team/f/', 'PUT', viewer), { status: 403, error: 'permission_denied', namespace: 'company.team' });
    assert.deepEqual(await svc.ask('/forward-auth', 'GET', { 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/api/v1/auths/stats/executions/daily' }),
      { status: 401, error: 'no_credentials', namespace: undefined });
    assert.equal((await svc.ask('/forward-auth', 'GET', { 'x-forwarded-method': 'POST', 'x-forwarded-uri': '/api/v1/auths/login' })).status, 200);
  });
});
