/**
 * A client-sent signed-identity header (`x-kestra-identity`, SPEC.md) must
 * never reach the upstream: an upstream (or Istio's RequestAuthentication)
 * that verifies that header would otherwise take an attacker's token — or one
 * replayed from another audience — as ours. Through the real service on both
 * doors: the gRPC door with Envoy-shaped CheckRequests (the name is always in
 * headers_to_remove of an allow), the HTTP door in ext_authz mode (named in
 * x-envoy-auth-headers-to-remove) and behind the real Caddy and nginx
 * recipes (the upstream never sees the client's value). Also while the
 * identity token is off, and when the config names another header for it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { bearerServiceYaml } from '../helpers/bearer-service-config.js';
import { envoyCheckRequest } from '../helpers/envoy-check-request.js';
import { headerOf } from '../helpers/grpc-client.js';
import { startGrpcDoor, type GrpcDoor } from '../helpers/grpc-door.js';
import {
  CADDY_RECIPE_STRIP, caddyForwardAuthSite, nginxAuthRequest, proxySkipReason, startCaddy, startNginx, type RunningProxy,
} from '../helpers/proxies.js';
import { startTokenIssuer, type TokenIssuer } from '../helpers/token-issuer.js';
import { startUpstream, type EchoedRequest, type Upstream } from '../helpers/upstream.js';
import { expectAllowed } from './attack-kit.js';

const PROTECTED = '/api/v1/main/flows/company.team/hello';
const SPOOFED_TOKEN = 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiIsImdyb3VwcyI6WyJhZG1pbnMiXX0.';

/** The client's value under every spelling a client might use. */
function spoofedIn(echo: EchoedRequest): string[] {
  return Object.entries(echo.headers).filter(([name]) => name === 'x-kestra-identity' || name === 'x-signed-identity')
    .flatMap(([, values]) => values).filter((v) => v !== '');
}

describe('a client-sent x-kestra-identity never reaches the upstream', () => {
  let dir: string;
  let issuer: TokenIssuer;
  let door: GrpcDoor;
  let renamed: GrpcDoor;
  let devToken: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kauthz-identity-header-'));
    issuer = await startTokenIssuer();
    await issuer.addKey('k1');
    const configPath = join(dir, 'config.yaml');
    await writeFile(configPath, bearerServiceYaml({ dir, issuer: issuer.issuer }));
    door = await startGrpcDoor(configPath);
    // The same service with the signed identity header renamed: the default name is removed all the same.
    const renamedPath = join(dir, 'renamed.yaml');
    const doc = parse(bearerServiceYaml({ dir, issuer: issuer.issuer })) as { authz: Record<string, unknown> };
    doc.authz.headers = { identity: 'X-Signed-Identity' };
    await writeFile(renamedPath, stringify(doc));
    renamed = await startGrpcDoor(renamedPath);
    devToken = await issuer.mint({ sub: 'u-dev', preferred_username: 'dev', aud: 'kestra', resource_access: { kestra: { roles: ['kestra-devs'] } } });
  });

  after(async () => {
    await door?.close();
    await renamed?.close();
    await issuer?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('gRPC door: a public allow and a permitted allow both remove it, and never set the client\'s value', async () => {
    for (const [path, extra] of [['/healthz', {}], [PROTECTED, { authorization: `Bearer ${devToken}` }]] as const) {
      const ok = expectAllowed(await door.check({ method: 'GET', path, headers: { accept: 'application/json', 'x-kestra-identity': SPOOFED_TOKEN, ...extra } }));
      assert.ok(ok.headers_to_remove?.includes('x-kestra-identity'), `${path}: x-kestra-identity in headers_to_remove`);
      assert.equal(headerOf(ok.headers, 'x-kestra-identity'), undefined, `${path}: not set`);
      assert.doesNotMatch(JSON.stringify(ok), new RegExp(SPOOFED_TOKEN.slice(0, 20)), `${path}: the client's value is nowhere in the answer`);
    }
  });

  test('gRPC door: a mixed-case name from a non-Envoy caller is removed too (Envoy removes case-insensitively)', async () => {
    const raw = envoyCheckRequest({ method: 'GET', path: PROTECTED, headers: { authorization: `Bearer ${devToken}` } });
    raw.attributes.request.http.headers!['X-Kestra-Identity'] = SPOOFED_TOKEN;
    const ok = expectAllowed(await door.client.check(raw));
    assert.ok(ok.headers_to_remove?.includes('x-kestra-identity'));
    assert.doesNotMatch(JSON.stringify(ok), new RegExp(SPOOFED_TOKEN.slice(0, 20)));
  });

  test('gRPC door: with authz.headers.identity renamed, both names are removed', async () => {
    const ok = expectAllowed(await renamed.check({
      method: 'GET', path: PROTECTED,
      headers: { authorization: `Bearer ${devToken}`, 'x-kestra-identity': SPOOFED_TOKEN, 'x-signed-identity': SPOOFED_TOKEN },
    }));
    assert.ok(ok.headers_to_remove?.includes('x-kestra-identity'));
    assert.ok(ok.headers_to_remove?.includes('x-signed-identity'));
  });

  test('HTTP door, ext_authz mode: named in x-envoy-auth-headers-to-remove; forward-auth: sent empty', async () => {
    const base = `http://127.0.0.1:${door.service.httpPort}`;
    const ext = await fetch(`${base}/ext_authz${PROTECTED}`, { headers: { authorization: `Bearer ${devToken}`, 'X-Kestra-Identity': SPOOFED_TOKEN } });
    assert.equal(ext.status, 200);
    assert.ok(ext.headers.get('x-envoy-auth-headers-to-remove')?.split(',').includes('x-kestra-identity'));
    assert.equal(ext.headers.get('x-kestra-identity'), null, 'the client value is not echoed for allowed_upstream_headers');
    const fwd = await fetch(`${base}/forward-auth`, { headers: { 'x-forwarded-uri': '/healthz', 'x-forwarded-method': 'GET', 'X-Kestra-Identity': SPOOFED_TOKEN } });
    assert.equal(fwd.status, 200);
    assert.equal(fwd.headers.get('x-kestra-identity'), '', 'sent empty, so a copying proxy overwrites the client value');
  });

  describe('through the real proxies', () => {
    let upstream: Upstream;
    const proxies: RunningProxy[] = [];

    before(async () => {
      upstream = await startUpstream();
    });
    after(async () => {
      for (const p of proxies) await p.stop();
      await upstream?.stop();
    });

    const cases = [
      ['/healthz', {}],
      [PROTECTED, {}],
    ] as const;

    async function throughProxy(proxy: RunningProxy, auth: Record<string, string>): Promise<void> {
      for (const [path] of cases) {
        for (const name of ['x-kestra-identity', 'X-Kestra-Identity', 'X-KESTRA-IDENTITY']) {
          const res = await fetch(`${proxy.url}${path}`, { headers: { ...auth, [name]: SPOOFED_TOKEN }, redirect: 'manual' });
          const text = await res.text();
          assert.equal(res.status, 200, `${proxy.name} ${path}: ${text}`);
          const echo = JSON.parse(text) as EchoedRequest;
          assert.deepEqual(spoofedIn(echo), [], `${proxy.name} ${path} (${name}): the upstream saw ${JSON.stringify(echo.headers)}`);
          assert.doesNotMatch(JSON.stringify(echo), new RegExp(SPOOFED_TOKEN.slice(0, 20)));
        }
      }
    }

    test('Caddy, the recommended and the bare recipe', async (t) => {
      const skip = await proxySkipReason('caddy');
      if (skip) return t.skip(skip);
      const authz = `127.0.0.1:${door.service.httpPort}`;
      for (const strip of [CADDY_RECIPE_STRIP, []]) {
        const caddy = await startCaddy({ site: caddyForwardAuthSite({ authz, upstream: upstream.url, stripHeaders: strip }) });
        proxies.push(caddy);
        await throughProxy(caddy, { authorization: `Bearer ${devToken}` });
      }
    });

    test('nginx, the recipe', async (t) => {
      const skip = await proxySkipReason('nginx');
      if (skip) return t.skip(skip);
      const nginx = await startNginx(nginxAuthRequest({ authz: `http://127.0.0.1:${door.service.httpPort}`, upstream: upstream.url }));
      proxies.push(nginx);
      await throughProxy(nginx, { authorization: `Bearer ${devToken}` });
    });
  });
});
