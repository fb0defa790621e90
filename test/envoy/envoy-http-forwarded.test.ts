/**
 * Issue 13 in Envoy's HTTP ext_authz mode: what envoy/envoy-http.yaml's
 * http_service sends (path_prefix + the original path, the original method
 * and Host, only allowed_headers) reaches the real HTTP door, and a client's
 * X-Forwarded-Uri / X-Original-URI / -Method never re-describe the check —
 * not with the shipped header list (they are not in it), and not even with a
 * list an operator widened to pass them. With the default trust and with
 * `authz.http.forward-auth.trust: envoy`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { checkThroughHttpProvider, type ClientRequest, type Outcome } from '../deploy/istio-http-ext-authz.js';
import type { HttpProvider } from '../deploy/mesh-config-schema.js';
import { startHttpFixture, type HttpFixture } from '../http/service-fixture.js';
import { bootstrapParts, clusterNamed, readEnvoyFile } from './envoy-bootstrap.js';
import { providerOfExtAuthz } from './envoy-http-service.js';

const parts = bootstrapParts(readEnvoyFile('envoy-http.yaml'));
const endpoint = clusterNamed(parts, 'kestra_authz_http').load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address;
const shipped = providerOfExtAuthz(parts.extAuthz.typed_config, { address: endpoint.address, port: endpoint.port_value });
const DESCRIBING = ['x-forwarded-uri', 'x-forwarded-method', 'x-original-uri', 'x-original-method'];
/** An operator's list that lets the forward-auth description through: the door must not care. */
const widened: HttpProvider = { ...shipped, includeRequestHeadersInCheck: [...shipped.includeRequestHeadersInCheck!, ...DESCRIBING] };

const FLOW = '/api/v1/main/flows/company.team/f';
const SPOOF = { 'x-forwarded-uri': '/ping', 'x-forwarded-method': 'GET', 'x-original-uri': '/ping', 'x-original-method': 'GET' };

for (const trust of ['default', 'envoy']) {
  describe(`envoy-http.yaml → HTTP door, trust ${trust}: a client cannot re-describe an ext_authz check`, () => {
    let fx: HttpFixture;
    before(async () => { fx = await startHttpFixture(trust === 'default' ? {} : { trust }); });
    after(async () => { await fx?.stop(); });

    const through = (provider: HttpProvider, req: Partial<ClientRequest> & { path: string }): Promise<Outcome> =>
      checkThroughHttpProvider(provider, fx.door, { method: 'GET', host: 'kestra.example.com', headers: {}, ...req });

    for (const [list, provider] of [['shipped', shipped], ['widened', widened]] as const) {
      test(`${list} allowed_headers: an anonymous DELETE with X-Forwarded-Uri/X-Original-URI: /ping → 401`, async () => {
        const out = await through(provider, { method: 'DELETE', path: FLOW, headers: { accept: 'application/json', ...SPOOF } });
        assert.equal(out.allowed, false);
        if (out.allowed) return;
        assert.equal(out.status, 401);
        const seen = fx.seen.at(-1)!;
        assert.equal(seen.method, 'DELETE');
        assert.equal(seen.path, FLOW);
        // The shipped list never carries them; the widened one does, and they still describe nothing.
        for (const name of DESCRIBING) assert.equal(seen.headers[name], list === 'shipped' ? undefined : SPOOF[name as keyof typeof SPOOF], name);
      });

      test(`${list} allowed_headers: a viewer's DELETE with X-Forwarded-Method: GET → 403; their GET is allowed`, async () => {
        const viewer = { authorization: `Basic ${Buffer.from('visitor:visitor-pass-1').toString('base64')}` };
        const del = await through(provider, { method: 'DELETE', path: FLOW, headers: { ...viewer, ...SPOOF } });
        assert.equal(del.allowed ? 200 : del.status, 403);
        assert.equal(fx.seen.at(-1)!.method, 'DELETE');
        const get = await through(provider, { method: 'GET', path: FLOW, headers: { ...viewer, ...SPOOF } });
        assert.equal(get.allowed, true);
      });
    }
  });
}
