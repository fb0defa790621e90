/**
 * Route matching sees the path Kestra routes, through the real service
 * (gRPC Check with Envoy-shaped requests, and the HTTP door): a trailing
 * slash (`/`, `//`, `/.`) is decided like the bare path, as Micronaut strips
 * it before routing; `;x` endings and encoded separators are refused (400) —
 * never a laxer rule such as `default: authenticated`.
 * Identities: see route-shape-kit.ts (viewer: default role everywhere;
 * dev: developer bound to `company.team`).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ENDINGS, kestraRuleRequests } from '../helpers/kestra-rule-requests.js';
import { countedAs, expectAllowed, expectRefused, jsonBody } from './attack-kit.js';
import { outcomeOf, routeShapeSuite } from './route-shape-kit.js';

const A = '/api/v1/main';

describe('trailing slashes and ambiguous endings (real service)', () => {
  const svc = routeShapeSuite();
  const { viewer, dev, check } = svc;

  test("the issue's requests: a trailing slash is decided like the bare path (403), never by the default rule", async () => {
    const attacks: [string, string, Record<string, string>, string][] = [
      ['DELETE', `${A}/flows/company.team/f`, viewer, 'kestra:flows.delete'],
      ['POST', `${A}/flows`, viewer, 'kestra:flows.create'],
      ['DELETE', `${A}/executions/by-ids`, viewer, 'kestra:executions.delete-by-ids'],
      ['PUT', `${A}/namespaces/company.other/kv/k`, dev, 'kestra:kv.write'],
    ];
    for (const [method, bare, who, rule] of attacks) {
      const bareAnswer = await check(method, bare, who);
      expectRefused(bareAnswer, 403, 'permission_denied');
      const expected = outcomeOf(bareAnswer);
      assert.equal(expected.rule, rule, `${method} ${bare}`);
      for (const ending of ['/', '//', '/.', '/./', '//.//']) {
        const res = await countedAs('permission_denied', () => check(method, bare + ending, who));
        assert.deepEqual(outcomeOf(res), expected, `${method} ${bare}${ending}`);
      }
      for (const ending of [';x', '/;x', '%3Bx', '/%3B']) {
        expectRefused(await countedAs('bad_request', () => check(method, bare + ending, who)), 400, 'bad_request');
      }
    }
    // The 403 names what is missing, for the trailing-slash spelling too.
    const body = jsonBody(expectRefused(await check('PUT', `${A}/namespaces/company.other/kv/k/`, dev), 403, 'permission_denied'));
    assert.equal(body?.namespace, 'company.other');
    assert.equal(body?.permission, 'KVSTORE:CREATE|UPDATE');
    // Control: with the permission, the trailing-slash spelling is allowed like the bare one.
    expectAllowed(await check('DELETE', `${A}/flows/company.team/f/`, dev));
  });


  test('every built-in rule × every ending: the same decision as the bare path, or 400 — never a weaker one', async () => {
    const requests = kestraRuleRequests();
    let compared = 0;
    for (const who of [dev, viewer, {}]) {
      for (const { method, path } of requests) {
        const bare = outcomeOf(await check(method, path, who));
        for (const ending of ENDINGS) {
          const seen = outcomeOf(await check(method, path + ending, who));
          if (seen.status === 400) {
            assert.equal(seen.reason, 'bad_request', `${method} ${path}${ending}`);
            continue;
          }
          assert.deepEqual(seen, bare, `${method} ${path}${ending}`);
          compared++;
        }
      }
    }
    assert.ok(compared >= requests.length * 3 * 4, `${compared} spellings decided like their bare path`);
  });


  test('encoded separators are refused (an upstream that decodes %2F before routing sees two segments): 400, not the one-segment reading', async () => {
    for (const attack of [`${A}/flows/company.other%2Ff`, `${A}/flows/company.team%2F..%2Fcompany.other/f`, `${A}/flows/company.other%5Cf`, `${A}/flows/company.other\\f`]) {
      expectRefused(await countedAs('bad_request', () => check('DELETE', attack, dev)), 400, 'bad_request');
    }
  });


  test('the HTTP door decides the same (ext_authz and forward-auth)', async () => {
    const denied = { status: 403, error: 'permission_denied' };
    // ext_authz: the request line is the client's.
    assert.deepEqual(await countedAs('permission_denied', () => svc.ask('/ext_authz/api/v1/main/flows/company.team/f/', 'DELETE', viewer), 1, 'http'),
      { ...denied, namespace: 'company.team' });
    assert.deepEqual(await svc.ask('/ext_authz/api/v1/main/flows/', 'POST', viewer), { ...denied, namespace: undefined });
    assert.deepEqual(await svc.ask('/ext_authz/api/v1/main/flows/company.team/f;x', 'DELETE', viewer), { status: 400, error: 'bad_request', namespace: undefined });
    assert.equal((await svc.ask('/ext_authz/api/v1/main/flows/company.team/f/', 'DELETE', dev)).status, 200);
    // forward-auth: method and URI from the proxy's headers.
    const fwd = (method: string, uri: string, who: Record<string, string> = {}) =>
      svc.ask('/forward-auth', 'GET', { ...who, 'x-forwarded-method': method, 'x-forwarded-uri': uri });
    assert.deepEqual(await fwd('DELETE', '/api/v1/main/executions/by-ids/', viewer), { ...denied, namespace: undefined });
    assert.deepEqual(await fwd('PUT', '/api/v1/main/namespaces/company.other/kv/k/', dev), { ...denied, namespace: 'company.other' });
    assert.deepEqual(await fwd('PUT', '/api/v1/main/namespaces/company.other/kv/k%3Bx', dev), { status: 400, error: 'bad_request', namespace: undefined });
  });

  test('the service carries on', async () => {
    assert.equal(await svc.running().door.client.health(''), 'SERVING');
    expectAllowed(await countedAs('permitted', () => check('GET', `${A}/flows/company.team/f`, dev)));
  });
});
