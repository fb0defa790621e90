/**
 * The shipped recipes reuse their connections to the HTTP door: through REAL
 * nginx (`upstream { keepalive 32; }`, HTTP/1.1, empty Connection) and REAL
 * Caddy (`transport http { keepalive 60s }`), many allowed requests — in
 * waves of concurrent ones — open only a few connections to the door, counted
 * by the door itself (`kestra_authz_http_connections_total`). A recipe that
 * lost its keep-alive would open one per request and fail here.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { metricValue } from '../helpers/metric-value.js';
import { CADDY_RECIPE_STRIP, caddyForwardAuthSite, nginxAuthRequest, proxySkipReason, startCaddy, startNginx, type ProxyName, type RunningProxy } from '../helpers/proxies.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { startHttpFixture, type HttpFixture } from './service-fixture.js';

const WAVES = 20;
const CONCURRENCY = 8;
const PATH = '/api/v1/main/flows/company.team/hello';

for (const name of ['nginx', 'caddy'] as const satisfies readonly ProxyName[]) {
  const skip = await proxySkipReason(name);
  describe(`${name} recipe: keep-alive to the HTTP door`, { skip }, () => {
    let fx: HttpFixture;
    let upstream: Upstream;
    let proxy: RunningProxy;

    before(async () => {
      fx = await startHttpFixture();
      upstream = await startUpstream();
      proxy = name === 'nginx'
        ? await startNginx(nginxAuthRequest({ authz: fx.door, upstream: upstream.url }))
        : await startCaddy({ site: caddyForwardAuthSite({ authz: `127.0.0.1:${fx.service.httpPort}`, upstream: upstream.url, stripHeaders: CADDY_RECIPE_STRIP }) });
    });

    after(async () => {
      await proxy?.stop();
      await upstream?.stop();
      await fx?.stop();
    });

    test(`${WAVES * CONCURRENCY} allowed requests, ${CONCURRENCY} at a time, open at most a few door connections`, async (t) => {
      const authorization = `Bearer ${await fx.devToken()}`;
      const connectionsBefore = await metricValue('kestra_authz_http_connections_total');
      const decisionsBefore = fx.seen.length;
      for (let wave = 0; wave < WAVES; wave++) {
        const answers = await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
          const res = await fetch(`${proxy.url}${PATH}`, { headers: { authorization } });
          await res.arrayBuffer();
          return res.status;
        }));
        assert.deepEqual(answers, Array<number>(CONCURRENCY).fill(200), `wave ${wave}`);
      }
      const opened = (await metricValue('kestra_authz_http_connections_total')) - connectionsBefore;
      const checks = fx.seen.length - decisionsBefore;
      assert.equal(checks, WAVES * CONCURRENCY, 'every request was decided by the door');
      t.diagnostic(`${name}: ${opened} door connections for ${checks} checks`);
      assert.ok(opened >= 1, 'the counter counts the proxy\'s connections');
      // Reuse: at most one connection per concurrent check (plus slack for a pool that grows), never one per check.
      assert.ok(opened <= 2 * CONCURRENCY, `${name} opened ${opened} connections to the door for ${checks} checks: the recipe does not keep them alive`);
    });
  });
}
