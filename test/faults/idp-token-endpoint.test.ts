/**
 * The IdP going down in the middle of a login, everything real: the service
 * asked over gRPC Check as Envoy would, a real oidc-provider over HTTPS.
 * The user signs in at the IdP (a code is issued), then the IdP stops before
 * the callback reaches us: the token endpoint cannot be reached. The callback
 * must answer 503 `idp_unavailable` with a retry link, set no session cookie,
 * and count in `oidc_logins_total{result="idp_unavailable"}` and
 * `decisions_total{reason="idp_unavailable"}`; once the IdP is back on its
 * address, a new login works without restarting the service.
 *
 * Run with NODE_EXTRA_CA_CERTS=test/fixtures/tls/cert.pem (the IdP is HTTPS).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cookieHeader } from '../helpers/cookie-jar.js';
import { AT_EXTERNAL_URL, EXTERNAL_URL, expectAllowed, expectDenied, startGrpcDoor, type GrpcDoor } from '../helpers/grpc-door.js';
import { headerOf, headersOf } from '../helpers/grpc-client.js';
import { beginLoginAtPage, callbackCheck, loginThroughGrpcDoor } from '../helpers/login-session.js';
import { metricValue } from '../helpers/metric-value.js';
import { startOidcIdp, type OidcIdp } from '../helpers/oidc-idp.js';
import { PROFILE_SCOPES, TEST_CLIENT, oidcServiceYaml } from '../helpers/oidc-service-config.js';

const PROVIDER = 'idp-a';
const CLIENTS = [{ ...TEST_CLIENT, redirect_uris: [`${EXTERNAL_URL}/oauth/callback/${PROVIDER}`] }];
const USERS = { alice: { preferred_username: 'alice', email: 'alice@example.com', email_verified: true } };

describe('IdP token endpoint down during a callback', () => {
  let dir: string;
  let idp: OidcIdp | undefined;
  let door: GrpcDoor;

  before(async () => {
    assert.ok(process.env.NODE_EXTRA_CA_CERTS, 'run with NODE_EXTRA_CA_CERTS=test/fixtures/tls/cert.pem (the test IdP is HTTPS)');
    dir = await mkdtemp(join(tmpdir(), 'kauthz-idp-down-'));
    idp = await startOidcIdp({ name: 'opdown1', clients: CLIENTS, users: USERS });
    const path = join(dir, 'config.yaml');
    await writeFile(path, oidcServiceYaml({
      secret: 'idp-down-fault-secret-0123456789abcdef',
      externalUrl: EXTERNAL_URL,
      dir,
      providers: { [PROVIDER]: idp },
      scopes: PROFILE_SCOPES,
      authz: { rules: [{ match: { path: '/app/**' }, allow: 'authenticated' }] },
    }));
    door = await startGrpcDoor(path, AT_EXTERNAL_URL);
  });
  after(async () => {
    await door?.close();
    await idp?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('callback while the IdP is down → 503 idp_unavailable, no session; the IdP back → a new login works', async () => {
    const port = Number(new URL(idp!.issuer).port);
    const { authorizeUrl, jar } = await beginLoginAtPage(door, '/app/home');
    const handoff = await idp!.loginWith(authorizeUrl.toString(), 'alice'); // the user is signed in at the IdP, a code issued
    await idp!.stop(); // …and the IdP goes away before the code is exchanged
    idp = undefined;

    const loginsBefore = await metricValue('kestra_authz_oidc_logins_total', { provider: PROVIDER, result: 'idp_unavailable' });
    const decisionsBefore = await metricValue('kestra_authz_decisions_total', { reason: 'idp_unavailable', mode: 'grpc' });
    const res = await callbackCheck(door, handoff.url, jar);
    const denied = expectDenied(res, 503);
    assert.equal(res.dynamic_metadata?.fields?.reason?.stringValue ?? 'idp_unavailable', 'idp_unavailable');
    assert.ok(headerOf(denied.headers, 'retry-after'), 'Retry-After');
    assert.match(denied.body ?? '', /cannot be reached/);
    assert.match(denied.body ?? '', new RegExp(`/oauth/login/${PROVIDER}`), 'the page offers to sign in again');
    const setCookies = headersOf(denied.headers, 'set-cookie');
    assert.ok(!setCookies.some((c) => /^JWT=[^;]/.test(c)), `no session cookie: ${setCookies.join(' | ')}`);
    assert.equal(await metricValue('kestra_authz_oidc_logins_total', { provider: PROVIDER, result: 'idp_unavailable' }), loginsBefore + 1);
    assert.equal(await metricValue('kestra_authz_decisions_total', { reason: 'idp_unavailable', mode: 'grpc' }), decisionsBefore + 1);
    // Nothing was let through: the page still needs a login.
    expectDenied(await door.check({ path: '/app/home', headers: { accept: 'application/json', cookie: cookieHeader(jar) } }), 401);

    // The IdP comes back on the same address (its keys are new); a new login works, no restart of the service.
    idp = await startOidcIdp({ port, name: 'opdown2', clients: CLIENTS, users: USERS });
    const session = await loginThroughGrpcDoor(door, '/app/home', (url) => idp!.loginWith(url, 'alice'));
    const ok = expectAllowed(await door.check({ path: '/app/home', headers: { accept: 'application/json', cookie: cookieHeader(session) } }));
    assert.equal(headerOf(ok.headers, 'x-kestra-user'), 'alice');
  });
});
