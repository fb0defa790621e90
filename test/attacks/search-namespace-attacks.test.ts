/**
 * A search is allowed only when every namespace it can return is granted,
 * through the real service (gRPC Check and the HTTP door): the namespaces
 * come from the query (`namespace=`, `filters[namespace][EQUALS|PREFIX|IN]=`);
 * a namespace outside the grants is 403 naming it; no filter (or one we
 * cannot bound) needs a grant not limited to a namespace.
 * Identities: see route-shape-kit.ts.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { countedAs, expectAllowed, expectRefused, jsonBody } from './attack-kit.js';
import { routeShapeSuite } from './route-shape-kit.js';

const A = '/api/v1/main';

describe('searches: namespaces from the query (real service)', () => {
  const svc = routeShapeSuite();
  const { viewer, dev, check } = svc;

  test("a developer's search outside its namespace is 403 naming the namespace; inside it is allowed", async () => {
    const searches: [string, string][] = [
      [`${A}/flows/search`, 'FLOW:READ'], [`${A}/executions/search`, 'EXECUTION:READ'], [`${A}/executions`, 'EXECUTION:READ'],
      [`${A}/logs/search`, 'EXECUTION:READ'], [`${A}/triggers/search`, 'FLOW:READ'],
    ];
    for (const [path, permission] of searches) {
      for (const query of ['namespace=company.other', 'namespace=company', 'namespace=company.teamx', 'namespace=company.team&namespace=company.other',
        'filters[namespace][EQUALS]=company.other', 'filters%5Bnamespace%5D%5BPREFIX%5D=company', '%6Eamespace=company.other',
        'filters[namespace][IN]=company.team,company.other']) {
        const res = expectRefused(await countedAs('permission_denied', () => check('GET', `${path}?${query}`, dev)), 403, 'permission_denied');
        const body = jsonBody(res)!;
        assert.ok(typeof body.namespace === 'string' && body.namespace.startsWith('company'), `${path}?${query}: ${JSON.stringify(body)}`);
        assert.match(String(body.message), new RegExp(`missing permission ${permission} in namespace ${String(body.namespace).replace(/\./g, '\\.')}`));
      }
      assert.equal(jsonBody(expectRefused(await check('GET', `${path}?namespace=company.other`, dev), 403, 'permission_denied'))?.namespace, 'company.other');
      // No namespace filter, or one we cannot read: only a grant not limited to a namespace may run it.
      for (const query of ['', '?page=1&size=25', '?NAMESPACE=company.team', '?filters[namespace][NOT_EQUALS]=company.other',
        '?filters[namespace][STARTS_WITH]=company.team', '?namespace=company.%25', '?namespace=', '?namespace=company.team&namespace=%ZZ']) {
        const body = jsonBody(expectRefused(await check('GET', `${path}${query}`, dev), 403, 'permission_denied'))!;
        assert.match(String(body.message), new RegExp(`missing permission ${permission} in every namespace`), `${path}${query}`);
        expectAllowed(await check('GET', `${path}${query}`, viewer));
      }
      // Within the grant: allowed, with a trailing slash too.
      for (const query of ['namespace=company.team', 'namespace=company.team.sub&page=1', 'filters[namespace][PREFIX]=company.team', 'filters[namespace][EQUALS]=company.team.sub']) {
        expectAllowed(await countedAs('permitted', () => check('GET', `${path}?${query}`, dev)));
        expectAllowed(await check('GET', `${path}/?${query}`, dev));
      }
      // The viewer's grant is tenant-wide: every search.
      expectAllowed(await check('GET', `${path}?namespace=company.other`, viewer));
    }
    // A search of a path-namespaced route is unchanged: the path decides.
    expectRefused(await check('GET', `${A}/flows/company.other?namespace=company.team`, dev), 403, 'permission_denied');
  });


  test('the HTTP door decides the same (ext_authz and forward-auth)', async () => {
    const denied = { status: 403, error: 'permission_denied' };
    assert.deepEqual(await countedAs('permission_denied', () => svc.ask('/ext_authz/api/v1/main/flows/search?namespace=company.other', 'GET', dev), 1, 'http'),
      { ...denied, namespace: 'company.other' });
    assert.equal((await svc.ask('/ext_authz/api/v1/main/flows/search?namespace=company.team', 'GET', dev)).status, 200);
    const fwd = (uri: string, who: Record<string, string>) => svc.ask('/forward-auth', 'GET', { ...who, 'x-forwarded-method': 'GET', 'x-forwarded-uri': uri });
    assert.deepEqual(await fwd('/api/v1/main/logs/search?namespace=company.other', dev), { ...denied, namespace: 'company.other' });
    assert.deepEqual(await fwd('/api/v1/main/executions/search', dev), { ...denied, namespace: undefined });
    assert.equal((await fwd('/api/v1/main/executions/search?namespace=company.team', dev)).status, 200);
    assert.equal((await fwd('/api/v1/main/executions/search', viewer)).status, 200);
  });
});
