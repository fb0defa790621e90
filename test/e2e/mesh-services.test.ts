/**
 * Service identities end to end (docs/mesh-identity.md): the real
 * service on free ports; the gRPC door with Envoy-shaped CheckRequests
 * carrying `source.principal` / `source.certificate`, a real JWKS for the
 * user tokens; the HTTP door with Envoy's x-forwarded-client-cert, off and on.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfigFile } from '../../src/config/load-config.js';
import { createLogger } from '../../src/observability/logger.js';
import { startService, type RunningService } from '../../src/server/service.js';
import { bearerServiceYaml } from '../helpers/bearer-service-config.js';
import { expectAllowed, expectDenied, startGrpcDoor, type GrpcDoor } from '../helpers/grpc-door.js';
import { headerOf } from '../helpers/grpc-client.js';
import { metricValue } from '../helpers/metric-value.js';
import { rawCall } from '../helpers/raw-http.js';
import { startTokenIssuer, type TokenIssuer } from '../helpers/token-issuer.js';

const CI_RUNNER = 'spiffe://cluster.local/ns/ci/sa/ci-runner';
const KESTRA_WORKER = 'spiffe://cluster.local/ns/kestra/sa/worker';
const MONITORING = 'spiffe://cluster.local/ns/monitoring/sa/prometheus';
const GATEWAY = 'spiffe://cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account';
const STRANGER = 'spiffe://cluster.local/ns/other/sa/stranger';
const FLOW = '/api/v1/main/flows/company.team/hello';

function configYaml(dir: string, issuer: TokenIssuer, http?: Record<string, unknown>): string {
  return bearerServiceYaml({
    dir,
    issuer: issuer.issuer,
    ...(http ? { http } : {}),
    bindings: [
      { service: CI_RUNNER, role: 'developer', namespace: 'company.team' },
      { service: 'spiffe://cluster.local/ns/kestra/sa/*', role: 'developer', namespace: 'company.mesh' },
      // The gateway holds admin: a user it forwards must never be decided with it.
      { service: GATEWAY, role: 'admin' },
    ],
    rules: [
      { id: 'metrics-push', match: { path: '/internal/metrics/**', principals: ['spiffe://cluster.local/ns/monitoring/sa/*'] }, allow: 'public' },
      { id: 'internal', match: { path: '/internal/**' }, allow: 'deny' },
    ],
  });
}

describe('service identities through the gRPC door', () => {
  let dir: string;
  let issuer: TokenIssuer;
  let door: GrpcDoor;
  const devToken = () => issuer.mint({ sub: 'u-dev', preferred_username: 'dev', aud: 'kestra', resource_access: { kestra: { roles: ['kestra-devs'] } } });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kauthz-mesh-grpc-'));
    issuer = await startTokenIssuer();
    await issuer.addKey('k1');
    await writeFile(join(dir, 'config.yaml'), configYaml(dir, issuer));
    door = await startGrpcDoor(join(dir, 'config.yaml'), { headers: { accept: 'application/json' } });
  });
  after(async () => {
    await door?.close();
    await issuer?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('a bound workload without a user token is allowed in its namespace; the upstream is told its SPIFFE id', async () => {
    const before = await metricValue('kestra_authz_decisions_by_auth_method_total', { auth_method: 'mtls', result: 'allow' });
    const ok = expectAllowed(await door.check({ method: 'POST', path: '/api/v1/main/executions/company.team/hello', sourcePrincipal: CI_RUNNER }));
    assert.equal(headerOf(ok.headers, 'x-kestra-user'), CI_RUNNER);
    assert.equal(headerOf(ok.headers, 'x-kestra-groups'), undefined);
    assert.equal(await metricValue('kestra_authz_decisions_by_auth_method_total', { auth_method: 'mtls', result: 'allow' }), before + 1);
  });

  test('the same workload in another namespace: 403 naming the missing permission', async () => {
    const denied = expectDenied(await door.check({ method: 'GET', path: '/api/v1/main/flows/company.other/hello', sourcePrincipal: CI_RUNNER }), 403);
    const body = JSON.parse(denied.body ?? '{}') as Record<string, string>;
    assert.equal(body.error, 'permission_denied');
    assert.equal(body.namespace, 'company.other');
  });

  test('a workload the policy names nowhere stays anonymous: 401, and never the default role', async () => {
    const denied = expectDenied(await door.check({ method: 'GET', path: FLOW, sourcePrincipal: STRANGER }), 401);
    assert.equal((JSON.parse(denied.body ?? '{}') as Record<string, string>).error, 'no_credentials');
    // A principal that is no SPIFFE id is no principal.
    expectDenied(await door.check({ method: 'GET', path: FLOW, sourcePrincipal: 'CN=ci-runner' }), 401);
  });

  test('a wildcard binding: the worker of ns/kestra, identified by its certificate when Envoy sends no principal', async () => {
    const pem = await readFile(join(process.cwd(), 'test/fixtures/tls/spiffe-worker.pem'), 'utf8');
    const ok = expectAllowed(await door.check({ method: 'GET', path: '/api/v1/main/flows/company.mesh/sync', sourceCertificatePem: pem }));
    assert.equal(headerOf(ok.headers, 'x-kestra-user'), KESTRA_WORKER);
    expectDenied(await door.check({ method: 'GET', path: FLOW, sourceCertificatePem: pem }), 403);
    const twoUris = await readFile(join(process.cwd(), 'test/fixtures/tls/spiffe-two-uris.pem'), 'utf8');
    expectDenied(await door.check({ method: 'GET', path: '/api/v1/main/flows/company.mesh/sync', sourceCertificatePem: twoUris }), 401);
  });

  test('match.principals: only the named peers pass the rule; anyone else falls to the next rule', async () => {
    expectAllowed(await door.check({ method: 'POST', path: '/internal/metrics/push', sourcePrincipal: MONITORING }));
    expectDenied(await door.check({ method: 'POST', path: '/internal/metrics/push' }), 403);
    expectDenied(await door.check({ method: 'POST', path: '/internal/metrics/push', sourcePrincipal: CI_RUNNER }), 403);
    // A user token does not stand in for the peer: the rule matches on the peer only.
    expectDenied(await door.check({ method: 'POST', path: '/internal/metrics/push', headers: { authorization: `Bearer ${await devToken()}` } }), 403);
  });

  test('a user token through the gateway: the user decides identity, never the gateway\'s admin binding', async () => {
    const token = await devToken();
    const ok = expectAllowed(await door.check({ method: 'GET', path: FLOW, sourcePrincipal: GATEWAY, headers: { authorization: `Bearer ${token}` } }));
    assert.equal(headerOf(ok.headers, 'x-kestra-user'), 'dev');
    expectDenied(await door.check({ method: 'DELETE', path: '/api/v1/main/flows/company.other/hello', sourcePrincipal: GATEWAY, headers: { authorization: `Bearer ${token}` } }), 403);
    // The gateway alone is admin; a bad user token through it is a 401, never the gateway's identity.
    expectAllowed(await door.check({ method: 'DELETE', path: '/api/v1/main/flows/company.other/hello', sourcePrincipal: GATEWAY }));
    expectDenied(await door.check({ method: 'DELETE', path: '/api/v1/main/flows/company.other/hello', sourcePrincipal: GATEWAY, headers: { authorization: 'Bearer not.a.token' } }), 401);
  });

  test('an x-forwarded-client-cert header means nothing to the gRPC door (only the Peer Envoy verified does)', async () => {
    expectDenied(await door.check({ method: 'GET', path: FLOW, headers: { 'x-forwarded-client-cert': `Hash=1;URI=${CI_RUNNER}` } }), 401);
  });
});

describe('service identities through the HTTP door', () => {
  let dir: string;
  let issuer: TokenIssuer;
  let plain: RunningService;
  let withHeader: RunningService;
  const base = (s: RunningService) => `http://127.0.0.1:${s.httpPort}`;
  const xfcc = (...elements: string[]) => ({ accept: 'application/json', 'x-forwarded-client-cert': elements.join(',') });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kauthz-mesh-http-'));
    issuer = await startTokenIssuer();
    await issuer.addKey('k1');
    await writeFile(join(dir, 'plain.yaml'), configYaml(dir, issuer));
    await writeFile(join(dir, 'xfcc.yaml'), configYaml(dir, issuer, { 'client-cert-header': 'x-forwarded-client-cert' }));
    plain = await startService(await loadConfigFile(join(dir, 'plain.yaml')), { logger: createLogger('silent') });
    withHeader = await startService(await loadConfigFile(join(dir, 'xfcc.yaml')), { logger: createLogger('silent') });
  });
  after(async () => {
    await plain?.close();
    await withHeader?.close();
    await issuer?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('not configured: a client-sent XFCC naming a bound workload is ignored (401)', async () => {
    const res = await rawCall(base(plain), `/ext_authz${FLOW}`, xfcc(`By=spiffe://cluster.local/ns/kestra/sa/authz;Hash=1;URI=${CI_RUNNER}`));
    assert.equal(res.status, 401);
    assert.equal(res.json().error, 'no_credentials');
  });

  test('configured: the URI of the last element (the proxy\'s own) decides; an earlier, forged one never does', async () => {
    const allowed = await rawCall(base(withHeader), `/ext_authz${FLOW}`, xfcc(`By=spiffe://cluster.local/ns/kestra/sa/authz;Hash=1;URI=${CI_RUNNER}`));
    assert.equal(allowed.status, 200);
    const forgedFirst = await rawCall(base(withHeader), `/ext_authz${FLOW}`, xfcc(`URI=${CI_RUNNER}`, `By=spiffe://cluster.local/ns/kestra/sa/authz;Hash=2;URI=${STRANGER}`));
    assert.equal(forgedFirst.status, 401);
    const forwardAuth = await rawCall(base(withHeader), '/forward-auth', {
      ...xfcc(`Hash=1;URI=${CI_RUNNER}`), 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/api/v1/main/flows/company.other/x', 'x-forwarded-proto': 'https',
    });
    assert.equal(forwardAuth.status, 403, 'the peer is known, the namespace is not its own');
  });

  test('configured: the header on two lines is a 400 (which line the proxy wrote cannot be told)', async () => {
    const res = await rawCall(base(withHeader), `/ext_authz${FLOW}`, {
      accept: 'application/json', 'x-forwarded-client-cert': [`URI=${CI_RUNNER}`, `URI=${STRANGER}`],
    });
    assert.equal(res.status, 400);
    assert.equal(res.json().error, 'bad_request');
    assert.doesNotMatch(res.body, /spiffe:/, 'the refusal names the header, not its value');
  });
});
