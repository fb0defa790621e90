/**
 * An independent verifier of the signed identity token: a real Apache httpd
 * with mod_auth_openidc (`AuthType oauth20`, `OIDCOAuthVerifyJwksUri` on our
 * served JWKS) in front of a test upstream. mod_auth_openidc 2.4 reads a
 * resource-server token from `Authorization: Bearer` only
 * (`OIDCOAuthAcceptTokenAs header`), so mod_headers puts our header there
 * first (`early`, before authentication), dropping whatever Authorization the
 * request had. Issuer and audience are required with `Require claim`.
 * Ours → 200 and the upstream sees the claims; tampered, expired, wrong
 * audience, foreign key, none → 401 and the upstream is not reached.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair, SignJWT } from 'jose';
import { parse, stringify } from 'yaml';
import type { Identity } from '../../src/core/identity.js';
import { IdentityTokens } from '../../src/identity/identity-tokens.js';
import { apacheSkipReason, startApache, type RunningApache } from '../helpers/apache.js';
import { bearerServiceYaml } from '../helpers/bearer-service-config.js';
import { headerOf } from '../helpers/grpc-client.js';
import { startGrpcDoor, type GrpcDoor } from '../helpers/grpc-door.js';
import { startTokenIssuer, type TokenIssuer } from '../helpers/token-issuer.js';
import { startUpstream, type EchoedRequest, type Upstream } from '../helpers/upstream.js';
import { expectAllowed } from '../attacks/attack-kit.js';

const skip = await apacheSkipReason();
const EXTERNAL_URL = 'https://kestra.example.com';
const AUDIENCE = 'reports-service';
const PROTECTED = '/api/v1/main/flows/company.team/hello';

describe('mod_auth_openidc (real Apache) verifies our identity token', { skip }, () => {
  let dir: string;
  let issuer: TokenIssuer;
  let door: GrpcDoor;
  let upstream: Upstream;
  let apache: RunningApache;
  let devToken: string;
  let tls: Server;

  /** A token the real service sets on an allow for `path` (its rules give the audience). */
  async function tokenFor(path: string): Promise<string> {
    const ok = expectAllowed(await door.check({ method: 'GET', path, headers: { authorization: `Bearer ${devToken}` } }));
    const token = headerOf(ok.headers, 'x-kestra-identity');
    assert.ok(token);
    return token;
  }

  async function viaApache(headers: Record<string, string>): Promise<{ status: number; echo?: EchoedRequest }> {
    const res = await fetch(`${apache.url}/reports/q1`, { headers });
    const text = await res.text();
    return { status: res.status, echo: res.status === 200 ? JSON.parse(text) as EchoedRequest : undefined };
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kauthz-apache-oidc-'));
    issuer = await startTokenIssuer();
    await issuer.addKey('k1');
    const doc = parse(bearerServiceYaml({
      dir, issuer: issuer.issuer,
      rules: [{ id: 'reports', match: { path: '/reports/**' }, allow: 'authenticated', 'identity-audience': AUDIENCE }],
    })) as { authz: Record<string, unknown> };
    doc.authz['external-url'] = EXTERNAL_URL;
    doc.authz['identity-token'] = { enabled: true };
    await writeFile(join(dir, 'config.yaml'), stringify(doc));
    door = await startGrpcDoor(join(dir, 'config.yaml'));
    devToken = await issuer.mint({ sub: 'u-dev', preferred_username: 'dev', aud: 'kestra', resource_access: { kestra: { roles: ['kestra-devs'] } } });
    upstream = await startUpstream();
    // mod_auth_openidc fetches a JWKS over https only: a TLS front (as an ingress would be) relays our management port's.
    const tlsDir = new URL('../../../test/fixtures/tls/', import.meta.url);
    const caFile = new URL('cert.pem', tlsDir).pathname;
    tls = createServer({ key: await readFile(new URL('key.pem', tlsDir)), cert: await readFile(caFile) }, (req, res) => {
      fetch(`http://127.0.0.1:${door.service.managementPort}${req.url ?? '/'}`).then(async (r) => {
        res.writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? 'application/json', 'cache-control': r.headers.get('cache-control') ?? 'no-store' });
        res.end(Buffer.from(await r.arrayBuffer()));
      }, () => res.writeHead(502).end());
    });
    await new Promise<void>((resolve) => tls.listen(0, '127.0.0.1', () => resolve()));
    const jwksUri = `https://127.0.0.1:${(tls.address() as AddressInfo).port}/.well-known/jwks.json`;
    apache = await startApache(['headers', 'proxy', 'proxy_http', 'auth_openidc'], `
OIDCCryptoPassphrase ${'p'.repeat(32)}
OIDCCABundlePath ${caFile}
OIDCOAuthVerifyJwksUri ${jwksUri}
OIDCOAuthAcceptTokenAs header
OIDCOAuthRemoteUserClaim sub
# Our header, and nothing else, is the token: set early, before authentication.
RequestHeader set Authorization "expr=Bearer %{req:X-Kestra-Identity}" early
<Location />
  AuthType oauth20
  <RequireAll>
    Require claim iss:${EXTERNAL_URL}
    Require claim aud:${AUDIENCE}
  </RequireAll>
  ProxyPass ${upstream.url}/
</Location>
`);
  });

  after(async () => {
    if (process.env.APACHE_DEBUG) console.error(apache?.output());
    await apache?.stop();
    await upstream?.stop();
    if (tls) await new Promise<void>((resolve) => { tls.close(() => resolve()); tls.closeAllConnections(); });
    await door?.close();
    await issuer?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('our token → 200; Apache passes the verified claims to the upstream', async () => {
    const token = await tokenFor('/reports/q1');
    const { status, echo } = await viaApache({ 'x-kestra-identity': token });
    assert.equal(status, 200, apache.output());
    assert.equal(echo!.headers['oidc_claim_sub']?.[0], 'u-dev');
    assert.equal(echo!.headers['oidc_claim_name']?.[0], 'dev');
    assert.equal(echo!.headers['oidc_claim_aud']?.[0], AUDIENCE);
  });

  test('tampered, expired, wrong audience, another key, absent → 401; the upstream never sees them', async () => {
    const before = upstream.requests.length;
    const token = await tokenFor('/reports/q1');
    const [head, payload, signature] = token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    const tampered = `${head}.${Buffer.from(JSON.stringify({ ...claims, name: 'admin', groups: ['admins'] })).toString('base64url')}.${signature}`;
    // Expired: our active key, our claims, signed an hour ago (a signer on a clock set back).
    const ring = door.service.services.identityKeys!;
    const past = new IdentityTokens(ring, { issuer: EXTERNAL_URL, ttlSeconds: 60, cacheSize: 10, now: () => Date.now() - 3_600_000 });
    const dev: Identity = { via: 'bearer', subject: 'u-dev', name: 'dev', groups: ['kestra-devs'] };
    const expired = (await past.tokenFor(dev, AUDIENCE, 'reports', undefined)).value;
    // Another audience: the real service's token for Kestra's API (aud = the host).
    const otherAudience = await tokenFor(PROTECTED);
    // Right claims, not our key.
    const foreign = await generateKeyPair('ES256');
    const forged = await new SignJWT({ name: 'admin' }).setProtectedHeader({ alg: 'ES256', kid: 'attacker' }).setIssuer(EXTERNAL_URL)
      .setAudience(AUDIENCE).setSubject('admin').setIssuedAt().setExpirationTime('5m').sign(foreign.privateKey);
    for (const [what, headers] of [
      ['tampered', { 'x-kestra-identity': tampered }],
      ['expired', { 'x-kestra-identity': expired }],
      ['other audience', { 'x-kestra-identity': otherAudience }],
      ['foreign key', { 'x-kestra-identity': forged }],
      ['absent', {}],
      ['our token in Authorization instead of the header', { authorization: `Bearer ${token}` }],
    ] as const) {
      const { status } = await viaApache(headers);
      assert.equal(status, 401, `${what}\n${apache.output().slice(-2000)}`);
    }
    assert.equal(upstream.requests.length, before, 'nothing refused reached the upstream');
  });
});
