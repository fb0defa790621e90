/**
 * The route-shape requests through REAL proxies (nginx auth_request,
 * Caddy forward_auth) in front of an echoing upstream standing in for Kestra:
 * a trailing slash, a tenant named `auths`, a namespace in the query string.
 * The proxies pass the URI as the client sent it (`/f/` reaches the upstream,
 * which Kestra's router would serve as `/f`), so the door must decide it like
 * the bare path: refused ones never reach the upstream, allowed ones arrive
 * unchanged.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { caddyForwardAuthSite, KESTRA_IDENTITY_HEADERS, nginxAuthRequest, proxySkipReason, startCaddy, startNginx, type ProxyName, type RunningProxy } from '../helpers/proxies.js';
import { startUpstream, type EchoedRequest, type Upstream } from '../helpers/upstream.js';
import { startHttpFixture, type HttpFixture } from '../http/service-fixture.js';

const A = '/api/v1/main';

for (const name of ['nginx', 'caddy'] as const satisfies readonly ProxyName[]) {
  const skip = await proxySkipReason(name);

  describe(`route shapes through real ${name}`, { skip }, () => {
    let fx: HttpFixture;
    let upstream: Upstream;
    let proxy: RunningProxy;
    let viewer: Record<string, string>;
    let dev: Record<string, string>;

    before(async () => {
      fx = await startHttpFixture();
      upstream = await startUpstream();
      proxy = name === 'nginx'
        ? await startNginx(nginxAuthRequest({ authz: `http://127.0.0.1:${fx.service.httpPort}`, upstream: upstream.url }))
        : await startCaddy({ site: caddyForwardAuthSite({ authz: `127.0.0.1:${fx.service.httpPort}`, upstream: upstream.url, stripHeaders: KESTRA_IDENTITY_HEADERS }) });
      viewer = { authorization: `Bearer ${await fx.issuer.mint({ sub: 'u-viewer', preferred_username: 'viewer', aud: 'kestra' })}` };
      dev = { authorization: `Bearer ${await fx.devToken()}` };
    });

    after(async () => {
      await proxy?.stop();
      await upstream?.stop();
      await fx?.stop();
    });

    const send = async (method: string, path: string, headers: Record<string, string> = {}) => {
      const before = upstream.requests.length;
      const res = await fetch(`${proxy.url}${path}`, { method, headers: { accept: 'application/json', ...headers }, redirect: 'manual' });
      const text = await res.text();
      return { status: res.status, text, reached: upstream.requests.slice(before) as EchoedRequest[] };
    };

    test('refused: trailing slash, the auths tenant, a foreign namespace in the query — the upstream never sees them', async () => {
      const attacks: [string, string, Record<string, string>, number][] = [
        ['DELETE', `${A}/flows/company.team/f/`, viewer, 403],
        ['POST', `${A}/flows/`, viewer, 403],
        ['DELETE', `${A}/executions/by-ids/`, viewer, 403],
        ['PUT', `${A}/namespaces/company.other/kv/k/`, dev, 403],
        ['PUT', `${A}/namespaces/company.other/kv/k//`, dev, 403],
        ['PUT', '/api/v1/auths/flows/company.team/f/', {}, 401],
        ['GET', `${A}/flows/search?namespace=company.other`, dev, 403],
        ['GET', `${A}/executions/search?namespace=company`, dev, 403],
        ['GET', `${A}/logs/search`, dev, 403],
        ['GET', `${A}/triggers/search?filters[namespace][EQUALS]=company.other`, dev, 403],
      ];
      for (const [method, path, who, status] of attacks) {
        const seen = await send(method, path, who);
        assert.equal(seen.status, status, `${method} ${path}: ${seen.text}`);
        assert.deepEqual(seen.reached, [], `${method} ${path} reached the upstream`);
      }
      // `;x`: refused by the door (400); nginx turns any auth answer but 2xx/401/403 into 500 — never the upstream.
      const semicolon = await send('DELETE', `${A}/flows/company.team/f;x`, viewer);
      assert.ok(semicolon.status === 400 || (name === 'nginx' && semicolon.status === 500), `got ${semicolon.status}`);
      assert.deepEqual(semicolon.reached, []);
    });

    test('allowed: within the grant, the request reaches the upstream as the client sent it', async () => {
      for (const [method, path] of [['DELETE', `${A}/flows/company.team/f/`], ['GET', `${A}/flows/search?namespace=company.team&page=1`],
        ['GET', `${A}/logs/search?namespace=company.team.sub`]] as const) {
        const seen = await send(method, path, dev);
        assert.equal(seen.status, 200, `${method} ${path}: ${seen.text}`);
        assert.equal(seen.reached.length, 1);
        assert.equal(seen.reached[0]!.method, method);
        assert.equal(seen.reached[0]!.url, path);
      }
      const all = await send('GET', `${A}/flows/search`, viewer);
      assert.equal(all.status, 200, 'a tenant-wide grant may search every namespace');
    });
  });
}
