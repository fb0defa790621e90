/**
 * The gRPC door end to end: the real service on free ports, a real grpc-js
 * client sending Envoy-shaped CheckRequests, a real JWKS endpoint, users
 * created with the real CLI.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bearerServiceYaml } from '../helpers/bearer-service-config.js';
import { createUsersWithCli } from '../helpers/cli-users.js';
import { expectAllowed as allowed, startGrpcDoor, type GrpcDoor } from '../helpers/grpc-door.js';
import { envoyCheckRequest } from '../helpers/envoy-check-request.js';
import { headerOf, type CheckResponseJs } from '../helpers/grpc-client.js';
import { metricValue } from '../helpers/metric-value.js';
import { startTokenIssuer, type TokenIssuer } from '../helpers/token-issuer.js';

function configYaml(dir: string, issuer: TokenIssuer): string {
  return bearerServiceYaml({
    dir,
    issuer: issuer.issuer,
    security: { login: { 'failed-attempts': { threshold: 3, 'monitoring-window': 'PT5M', 'lock-duration': 'PT30M' } } },
    bearer: { 'jwks-cooldown': '1s' },
    issuerEntry: { from: [{ header: 'authorization', prefix: 'Bearer ' }, { cookie: 'id_token' }] },
    bindings: [{ user: 'alice@example.com', role: 'admin' }],
    rules: [{ match: { methods: ['GET'], path: '/reports/{namespace}/**' }, require: 'FLOW:READ' }],
  });
}

function denied(res: CheckResponseJs): { status: number; body: Record<string, string> } {
  assert.ok(res.denied_response, `expected a denial, got ${JSON.stringify(res)}`);
  return { status: res.denied_response.status?.code ?? 0, body: JSON.parse(res.denied_response.body ?? '{}') as Record<string, string> };
}

describe('gRPC Check door', () => {
  let dir: string;
  let issuer: TokenIssuer;
  let door: GrpcDoor;

  const check = (init: Parameters<GrpcDoor['check']>[0]) => door.check(init);
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const devToken = (kid = 'k1') => issuer.mint({ sub: 'u-dev', preferred_username: 'dev', aud: 'kestra', resource_access: { kestra: { roles: ['kestra-devs'] } } }, { kid });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kauthz-grpc-'));
    issuer = await startTokenIssuer();
    await issuer.addKey('k1');
    const configPath = join(dir, 'config.yaml');
    await writeFile(configPath, configYaml(dir, issuer));
    await createUsersWithCli(configPath,
      ['--username', 'ops', '--password', 'correct-horse-1', '--groups', 'kestra-devs'],
      ['tenant-user', 'tenant-pass-1', '--tenant', 'acme']);
    door = await startGrpcDoor(configPath);
  });

  after(async () => {
    await door?.close();
    await issuer?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('health is SERVING once ready', async () => {
    assert.equal(await door.client.health(''), 'SERVING');
    assert.equal(await door.client.health('envoy.service.auth.v3.Authorization'), 'SERVING');
  });

  test('public routes pass without credentials and spoofed identity headers are removed', async () => {
    const ok = allowed(await check({ method: 'GET', path: '/healthz', headers: { 'x-kestra-user': 'admin' } }));
    assert.ok(ok.headers_to_remove?.includes('x-kestra-user'));
    allowed(await check({ method: 'GET', path: '/api/v1/configs?x=1' }));
    allowed(await check({ method: 'POST', path: '/api/v1/main/executions/webhook/company.team/flow/secret-key' }));
  });

  test('no credentials on an API route → 401 with a Bearer challenge and a JSON body', async () => {
    const res = await check({ method: 'GET', path: '/api/v1/main/flows/company.team/hello', headers: { accept: 'application/json' } });
    const { status, body } = denied(res);
    assert.equal(status, 401);
    assert.equal(body.error, 'no_credentials');
    assert.ok(body.requestId);
    assert.match(headerOf(res.denied_response?.headers, 'www-authenticate') ?? '', /^Bearer realm="kestra-authz"/);
    assert.equal(res.status?.code, 16);
  });

  test('a bad token → 401 invalid_token with a reason code', async () => {
    const res = await check({ method: 'GET', path: '/api/v1/main/flows/company.team/hello', headers: bearer('not.a.jwt') });
    const { status, body } = denied(res);
    assert.equal(status, 401);
    assert.equal(body.error, 'token_malformed');
    assert.match(headerOf(res.denied_response?.headers, 'www-authenticate') ?? '', /error="invalid_token", error_description="/);
  });

  test('bearer + group binding on company.team grants FLOW:READ in company.team.sub, not company.other', async () => {
    const token = await devToken();
    const ok = allowed(await check({ method: 'GET', path: '/api/v1/main/flows/company.team.sub/hello', headers: { ...bearer(token), 'x-kestra-user': 'spoofed' } }));
    assert.equal(headerOf(ok.headers, 'x-kestra-user'), 'dev');
    assert.equal(headerOf(ok.headers, 'x-kestra-groups'), 'kestra-devs');
    assert.equal(headerOf(ok.headers, 'x-kestra-tenant'), 'main');
    assert.equal(ok.headers?.find((h) => h.header.key === 'x-kestra-user')?.append_action, 2);

    const res = await check({ method: 'GET', path: '/api/v1/main/flows/company.other/hello', headers: bearer(token) });
    const { status, body } = denied(res);
    assert.equal(status, 403);
    assert.equal(body.error, 'permission_denied');
    assert.equal(body.permission, 'FLOW:READ');
    assert.equal(body.namespace, 'company.other');
    assert.equal(res.status?.code, 7);
  });

  test('default role applies when no binding does; admin binding grants everything', async () => {
    const viewer = await issuer.mint({ sub: 'u-view', preferred_username: 'viewer-user', aud: 'kestra' });
    allowed(await check({ method: 'GET', path: '/api/v1/main/flows/any.ns/f', headers: bearer(viewer) }));
    assert.equal(denied(await check({ method: 'DELETE', path: '/api/v1/main/flows/any.ns/f', headers: bearer(viewer) })).status, 403);
    const alice = await issuer.mint({ sub: 'u-alice', email: 'alice@example.com', email_verified: true, aud: 'kestra' });
    allowed(await check({ method: 'DELETE', path: '/api/v1/main/flows/any.ns/f', headers: bearer(alice) }));
    allowed(await check({ method: 'POST', path: '/api/v1/main/roles', headers: bearer(alice) }));
  });

  test('user rules come first: /reports/{namespace}/** needs FLOW:READ there', async () => {
    const token = await devToken();
    allowed(await check({ method: 'GET', path: '/reports/company.team/q3.pdf', headers: bearer(token) }));
    const res = await check({ method: 'GET', path: '/reports/finance/q3.pdf', headers: bearer(await issuer.mint({ sub: 'x', aud: 'kestra', resource_access: { kestra: { roles: ['kestra-devs'] } } })) });
    // a user who holds a binding does not also get the default role (Kestra: "users with no other grant")
    assert.equal(denied(res).status, 403);
    assert.equal(denied(res).body.namespace, 'finance');
  });

  test('a JWT from the configured cookie source is accepted', async () => {
    const token = await devToken();
    allowed(await check({ method: 'GET', path: '/api/v1/main/flows/company.team/x', headers: { cookie: `other=1; id_token=${token}` } }));
  });

  test('key rotation: a new kid is accepted after a refetch', async () => {
    await issuer.addKey('k2', { publish: false });
    const token = await devToken('k2');
    assert.equal(denied(await check({ method: 'GET', path: '/api/v1/main/flows/company.team/x', headers: bearer(token) })).body.error, 'token_unknown_kid');
    issuer.publish('k2', true);
    // The refetch is rate-limited per issuer (cooldown); a new token with k2 may still be refused until it passes.
    const deadline = Date.now() + 10_000;
    let res: CheckResponseJs;
    do {
      res = await check({ method: 'GET', path: '/api/v1/main/flows/company.team/x', headers: bearer(await devToken('k2')) });
      if (res.status?.code === 0) break;
      await new Promise((r) => setTimeout(r, 500));
    } while (Date.now() < deadline);
    allowed(res);
  });

  test('Basic: a CLI-created user passes; a wrong password is 401; lockout after the threshold', async () => {
    const basic = (u: string, p: string) => ({ authorization: `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}` });
    const ok = allowed(await check({ method: 'GET', path: '/api/v1/main/flows/company.team/x', headers: basic('ops', 'correct-horse-1') }));
    assert.equal(headerOf(ok.headers, 'x-kestra-user'), 'ops');
    const bad = await check({ method: 'GET', path: '/api/v1/main/flows/company.team/x', headers: basic('ops', 'wrong') });
    assert.equal(denied(bad).status, 401);
    assert.equal(denied(bad).body.error, 'basic_bad_credentials');
    assert.match(headerOf(bad.denied_response?.headers, 'www-authenticate') ?? '', /^Basic realm=/);
    await check({ method: 'GET', path: '/api/v1/main/flows/company.team/x', headers: basic('ops', 'wrong') });
    await check({ method: 'GET', path: '/api/v1/main/flows/company.team/x', headers: basic('ops', 'wrong') });
    const locked = await check({ method: 'GET', path: '/api/v1/main/flows/company.team/x', headers: basic('ops', 'correct-horse-1') });
    assert.equal(denied(locked).body.error, 'basic_locked_out');
  });

  test('a local user limited to a tenant is refused in another tenant', async () => {
    const basic = { authorization: `Basic ${Buffer.from('tenant-user:tenant-pass-1').toString('base64')}` };
    allowed(await check({ method: 'GET', path: '/api/v1/acme/flows/ns/x', headers: basic }));
    const res = await check({ method: 'GET', path: '/api/v1/main/flows/ns/x', headers: basic });
    assert.equal(denied(res).status, 403);
    assert.equal(denied(res).body.error, 'tenant_denied');
  });

  test('the issuer going down: cached keys still verify, an unknown kid is denied', async () => {
    const token = await devToken('k1');
    await issuer.addKey('k3', { publish: true });
    const unknown = await devToken('k3');
    await issuer.stop();
    allowed(await check({ method: 'GET', path: '/api/v1/main/flows/company.team/x', headers: bearer(token) }));
    const res = await check({ method: 'GET', path: '/api/v1/main/flows/company.team/x', headers: bearer(unknown) });
    assert.notEqual(res.status?.code, 0);
    assert.equal(denied(res).status, 401);
  });

  test('a CheckRequest without HTTP attributes is a 400 denial, counted, and the server stays up', async () => {
    const refused = { result: 'deny', reason: 'bad_request', mode: 'grpc' };
    const before = await metricValue('kestra_authz_decisions_total', refused);
    const res = await door.client.check({});
    assert.equal(denied(res).status, 400);
    const ambiguous = await door.client.check(envoyCheckRequest({ path: '/public/..%2Fadmin/x' }));
    assert.equal(denied(ambiguous).status, 400);
    assert.equal(await metricValue('kestra_authz_decisions_total', refused), before + 2);
    assert.equal(await door.client.health(''), 'SERVING');
  });

  test('raw header_map (encode_raw_headers) is understood', async () => {
    const token = await issuer.mint({ sub: 'u-alice', email: 'alice@example.com', aud: 'kestra' }).catch(() => '');
    // issuer is stopped by now; use Basic, which needs no JWKS
    void token;
    const req = envoyCheckRequest({ method: 'GET', path: '/api/v1/main/flows/company.team/x', headers: { authorization: `Basic ${Buffer.from('tenant-user:tenant-pass-1').toString('base64')}` } }) as {
      attributes: { request: { http: { headers?: Record<string, string>; header_map?: unknown } } };
    };
    const http = req.attributes.request.http;
    http.header_map = { headers: Object.entries(http.headers ?? {}).map(([key, value]) => ({ key, raw_value: Buffer.from(value) })) };
    delete http.headers;
    const res = await door.client.check(req);
    // tenant-user belongs to acme → refused in main, which proves the credential was read from header_map
    assert.equal(denied(res).body.error, 'tenant_denied');
  });

  test('/metrics exposes decisions by reason with bounded labels and no secrets', async () => {
    const text = await (await fetch(`http://127.0.0.1:${door.service.managementPort}/metrics`)).text();
    assert.match(text, /kestra_authz_decisions_total\{result="deny",reason="no_credentials",mode="grpc"\} \d+/);
    assert.match(text, /kestra_authz_decisions_total\{result="allow",reason="permitted",mode="grpc"\} \d+/);
    assert.match(text, /kestra_authz_decision_duration_seconds_bucket/);
    assert.match(text, /kestra_authz_jwks_fetch_total\{issuer="http:\/\/127\.0\.0\.1:\d+",result="ok"\} \d+/);
    assert.match(text, /kestra_authz_token_cache_hits_total \d+/);
    assert.match(text, /kestra_authz_basic_auth_lockouts_total 1/);
    assert.match(text, /process_resident_memory_bytes/);
    assert.doesNotMatch(text, /correct-horse|alice@example|eyJ/);
    const ready = await fetch(`http://127.0.0.1:${door.service.managementPort}/readyz`);
    assert.equal(ready.status, 200);
  });
});
