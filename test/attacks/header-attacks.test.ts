/**
 * Identity spoofing with request headers, through the real service: a client
 * sending `x-kestra-*` identity headers, proxy-style identity headers
 * (`x-forwarded-user`, `remote-user`, …), `x-forwarded-*` describing another
 * host or scheme, forged session cookies and smuggled Authorization values.
 * None of them is ever an identity: without a verified credential the answer
 * is a 401, and an allow always overwrites or removes the identity headers.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { bearerServiceYaml } from '../helpers/bearer-service-config.js';
import { envoyCheckRequest } from '../helpers/envoy-check-request.js';
import { headerOf } from '../helpers/grpc-client.js';
import { startGrpcDoor, type GrpcDoor } from '../helpers/grpc-door.js';
import { startTokenIssuer, type TokenIssuer } from '../helpers/token-issuer.js';
import { countedAs, expectAllowed, expectRefused } from './attack-kit.js';

const API = { accept: 'application/json' };
const PROTECTED = '/api/v1/main/flows/company.team/hello';
const IDENTITY_HEADERS = ['x-kestra-user', 'x-kestra-email', 'x-kestra-groups', 'x-kestra-tenant'];

/** Everything a client might hope a proxy or the upstream takes as "who I am". */
const SPOOFED: Record<string, string> = {
  'x-kestra-user': 'admin',
  'x-kestra-email': 'admin@example.com',
  'x-kestra-groups': 'admins,kestra-devs',
  'x-kestra-tenant': 'acme',
  'x-forwarded-user': 'admin',
  'x-forwarded-email': 'admin@example.com',
  'x-forwarded-groups': 'admins',
  'x-auth-request-user': 'admin',
  'x-remote-user': 'admin',
  'remote-user': 'admin',
  'x-user': 'admin',
  'x-authenticated-user': 'admin',
};

describe('spoofed identity headers (real service)', () => {
  let dir: string;
  let issuer: TokenIssuer;
  let door: GrpcDoor;
  let httpDoor: string;
  let devToken: string;

  const check = (path: string, headers: Record<string, string | readonly string[]>) => door.check({ method: 'GET', path, headers: { ...API, ...headers } });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kauthz-header-attacks-'));
    issuer = await startTokenIssuer();
    await issuer.addKey('k1');
    const configPath = join(dir, 'config.yaml');
    await writeFile(configPath, bearerServiceYaml({
      dir, issuer: issuer.issuer,
      rules: [{ match: { host: 'internal.example.com', path: '/internal/**' }, allow: 'public' }],
    }));
    door = await startGrpcDoor(configPath);
    httpDoor = `http://127.0.0.1:${door.service.httpPort}`;
    devToken = await issuer.mint({ sub: 'u-dev', preferred_username: 'dev', aud: 'kestra', resource_access: { kestra: { roles: ['kestra-devs'] } } });
  });

  after(async () => {
    await door?.close();
    await issuer?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('identity headers alone are not credentials: 401 no_credentials', async () => {
    const res = await countedAs('no_credentials', () => check(PROTECTED, SPOOFED));
    expectRefused(res, 401, 'no_credentials');
    // Upper-case names as a non-Envoy client might send them: the same.
    const upper = Object.fromEntries(Object.entries(SPOOFED).map(([k, v]) => [k.toUpperCase(), v]));
    const raw = envoyCheckRequest({ method: 'GET', path: PROTECTED, headers: API });
    Object.assign(raw.attributes.request.http.headers!, upper);
    expectRefused(await door.client.check(raw), 401, 'no_credentials');
  });

  test('on a public route the spoofed identity headers are removed', async () => {
    const ok = expectAllowed(await countedAs('public', () => check('/healthz', SPOOFED)));
    for (const name of IDENTITY_HEADERS) assert.ok(ok.headers_to_remove?.includes(name), `${name} removed`);
    assert.equal(ok.headers?.find((h) => IDENTITY_HEADERS.includes(h.header.key)), undefined, 'no identity header set');
  });

  test('an allowed caller gets its own identity, overwriting every spoofed value', async () => {
    const ok = expectAllowed(await countedAs('permitted', () => check(PROTECTED, { ...SPOOFED, authorization: `Bearer ${devToken}` })));
    assert.equal(headerOf(ok.headers, 'x-kestra-user'), 'dev');
    assert.equal(headerOf(ok.headers, 'x-kestra-groups'), 'kestra-devs');
    assert.equal(headerOf(ok.headers, 'x-kestra-tenant'), 'main', 'the tenant comes from the path, not the client');
    for (const h of ok.headers ?? []) if (IDENTITY_HEADERS.includes(h.header.key)) assert.equal(h.append_action, 2, `${h.header.key} overwrites`);
    assert.ok(ok.headers_to_remove?.includes('x-kestra-email'), 'an identity header we do not set is removed');
  });

  test('a spoofed X-Forwarded-Host does not pick a host-scoped rule', async () => {
    // Control: the rule is public for its own host.
    expectAllowed(await door.check({ method: 'GET', path: '/internal/x', host: 'internal.example.com', headers: API }));
    const res = await countedAs('no_credentials', () => door.check({
      method: 'GET', path: '/internal/x', host: 'kestra.example.com',
      headers: { ...API, 'x-forwarded-host': 'internal.example.com', forwarded: 'host=internal.example.com', 'x-original-host': 'internal.example.com' },
    }));
    expectRefused(res, 401, 'no_credentials');
  });

  test('forged session cookies and smuggled Authorization values are refused', async () => {
    // A session cookie signed with a key that is not ours.
    const forged = await new SignJWT({ sub: 'admin', name: 'admin', groups: ['admins'] })
      .setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setExpirationTime('1h').sign(new TextEncoder().encode('x'.repeat(32)));
    expectRefused(await countedAs('session_invalid', () => check(PROTECTED, { cookie: `JWT=${forged}` })), 401, 'session_invalid');
    expectRefused(await countedAs('session_invalid', () => check(PROTECTED, { cookie: 'JWT=admin' })), 401, 'session_invalid');
    // Two Authorization headers (Envoy joins them with ","): never read as the first one alone.
    expectRefused(await countedAs('token_malformed', () => check(PROTECTED, { authorization: [`Bearer ${devToken}`, 'Basic YWRtaW46YWRtaW4='] })), 401, 'token_malformed');
    expectRefused(await countedAs('token_malformed', () => check(PROTECTED, { authorization: [`Bearer ${devToken}`, `Bearer ${devToken}`] })), 401, 'token_malformed');
    // A spoofed signed-identity header is not a credential either.
    expectRefused(await countedAs('no_credentials', () => check(PROTECTED, { 'x-kestra-identity': devToken })), 401, 'no_credentials');
  });

  test('HTTP door, forward-auth: spoofed identity headers are blanked; a client X-Forwarded-Uri cannot re-describe an ext_authz request', async () => {
    const spoofed = { ...SPOOFED, 'x-forwarded-uri': PROTECTED, 'x-forwarded-method': 'GET', accept: 'application/json' };
    const anonymous = await fetch(`${httpDoor}/forward-auth`, { headers: spoofed });
    assert.equal(anonymous.status, 401);
    assert.equal(((await anonymous.json()) as { error: string }).error, 'no_credentials');

    const allowed = await fetch(`${httpDoor}/forward-auth`, { headers: { ...spoofed, 'x-forwarded-uri': '/healthz' } });
    assert.equal(allowed.status, 200);
    for (const name of IDENTITY_HEADERS) assert.equal(allowed.headers.get(name), '', `${name} is sent empty, so the proxy overwrites the spoofed value`);

    const asDev = await fetch(`${httpDoor}/forward-auth`, { headers: { ...spoofed, authorization: `Bearer ${devToken}` } });
    assert.equal(asDev.status, 200);
    assert.equal(asDev.headers.get('x-kestra-user'), 'dev');
    assert.equal(asDev.headers.get('x-kestra-groups'), 'kestra-devs');

    // ext_authz: the path prefix wins; the client's X-Forwarded-Uri (Envoy may pass it through) is ignored.
    const ext = await fetch(`${httpDoor}/ext_authz${PROTECTED}`, { headers: { ...API, 'x-forwarded-uri': '/healthz' } });
    assert.equal(ext.status, 401);
    await ext.arrayBuffer();
  });
});
