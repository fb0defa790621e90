/**
 * Browser login completed through the gRPC door only, as Envoy carries it:
 * every step is an Envoy-shaped CheckRequest to the real service; the IdP is
 * a real oidc-provider over HTTPS, walked by an HTTP client (no browser).
 *
 *   navigation, no cookie ─Check→ denied 302 → IdP (+ Set-Cookie login state)
 *   IdP login + consent (HTTP client) → redirect to /oauth/callback/<p>?code&state
 *   callback ─Check→ denied 302 → original URL (+ Set-Cookie session)
 *   navigation with the session ─Check→ OK, identity headers, our cookies stripped
 *
 * Run with NODE_EXTRA_CA_CERTS=test/fixtures/tls/cert.pem (the IdP is HTTPS).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfigFile } from '../../src/config/load-config.js';
import { createLogger } from '../../src/observability/logger.js';
import { startService, type RunningService } from '../../src/server/service.js';
import { envoyCheckRequest, type EnvoyCheckRequestInit } from '../helpers/envoy-check-request.js';
import { createAuthzClient, headerOf, headersOf, type AuthzClient, type CheckResponseJs } from '../helpers/grpc-client.js';
import { startOidcIdp, type OidcIdp } from '../helpers/oidc-idp.js';

const EXTERNAL = 'https://kestra.example.com';
const HOST = 'kestra.example.com';
const SECRET = 'grpc-login-e2e-secret-0123456789abcdef';
const CLIENT = { client_id: 'kestra', client_secret: 'kestra-secret-for-tests-only' };
const BROWSER = { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8', 'sec-fetch-mode': 'navigate' };

/** Cookie name → value from Set-Cookie lines; a cookie being cleared maps to ''. */
function cookiesSet(lines: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of lines) {
    const [pair = ''] = line.split(';');
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    const cleared = /;\s*max-age=0\b/i.test(line) || /;\s*expires=thu, 01 jan 1970/i.test(line);
    out.set(pair.slice(0, eq).trim(), cleared ? '' : pair.slice(eq + 1).trim());
  }
  return out;
}

function cookieHeader(jar: ReadonlyMap<string, string>, extra = ''): string {
  const pairs = [...jar].filter(([, v]) => v !== '').map(([n, v]) => `${n}=${v}`);
  if (extra) pairs.push(extra);
  return pairs.join('; ');
}

function denied(res: CheckResponseJs, status: number) {
  assert.ok(res.denied_response, `expected a denial, got ${JSON.stringify(res)}`);
  assert.equal(res.denied_response.status?.code, status, `expected ${status}, got ${JSON.stringify(res.denied_response)}`);
  assert.notEqual(res.status?.code ?? 0, 0, 'a denial must not carry gRPC OK');
  return res.denied_response;
}

function allowed(res: CheckResponseJs) {
  assert.equal(res.status?.code ?? 0, 0, `expected allow, got ${JSON.stringify(res)}`);
  assert.ok(res.ok_response);
  return res.ok_response;
}

function configYaml(dir: string, providers: Record<string, OidcIdp>): string {
  const clients = Object.entries(providers).map(([name, idp]) => `
        ${name}:
          client-id: ${CLIENT.client_id}
          client-secret: ${CLIENT.client_secret}
          scopes: [openid, profile, email, groups]
          openid: { issuer: "${idp.issuer}" }`).join('');
  return `
kestra:
  encryption: { secret-key: "${SECRET}" }
  security:
    oidc: { groups-claim-path: groups }
    default-role: { name: viewer, permissions: { FLOW: [READ] } }
micronaut:
  security:
    oauth2:
      enabled: true
      clients:${clients}
authz:
  external-url: ${EXTERNAL}
  listen: { grpc: 127.0.0.1:0, http: 127.0.0.1:0, management: 127.0.0.1:0 }
  users: { file: ${join(dir, 'users.yaml')} }
  rules:
    - { match: { path: "/app/**" }, allow: authenticated }
  log: { level: silent }
`;
}

interface Harness {
  readonly service: RunningService;
  readonly client: AuthzClient;
  check(init: EnvoyCheckRequestInit): Promise<CheckResponseJs>;
  close(): Promise<void>;
}

async function startHarness(dir: string, name: string, providers: Record<string, OidcIdp>): Promise<Harness> {
  const path = join(dir, `${name}.yaml`);
  await writeFile(path, configYaml(dir, providers));
  const service = await startService(await loadConfigFile(path), { logger: createLogger('silent') });
  const client = createAuthzClient(service.grpcPort);
  return {
    service,
    client,
    check: (init) => client.check(envoyCheckRequest({ host: HOST, scheme: 'https', ...init })),
    async close() {
      client.close();
      await service.close();
    },
  };
}

type Denied = NonNullable<CheckResponseJs['denied_response']>;

/**
 * With one provider the service may send the browser straight to the IdP or
 * to its own `/oauth/login/<p>` first; the browser follows either. Follows our
 * own hop (as another Check) so the answer returned points at the IdP.
 */
async function toProvider(harness: Harness, res: Denied): Promise<Denied> {
  const location = new URL(headerOf(res.headers, 'location') ?? '', EXTERNAL);
  if (location.origin !== EXTERNAL || !location.pathname.startsWith('/oauth/login/')) return res;
  const next = await harness.check({ path: location.pathname + location.search, headers: BROWSER });
  return denied(next, 302);
}

const clients = (names: readonly string[]) =>
  [{ ...CLIENT, redirect_uris: names.map((n) => `${EXTERNAL}/oauth/callback/${n}`), post_logout_redirect_uris: [`${EXTERNAL}/logout`, `${EXTERNAL}/`] }];

describe('browser login through the gRPC door (one provider)', () => {
  let dir: string;
  let idp: OidcIdp;
  let harness: Harness;

  before(async () => {
    assert.ok(process.env.NODE_EXTRA_CA_CERTS, 'run with NODE_EXTRA_CA_CERTS=test/fixtures/tls/cert.pem (the test IdP is HTTPS)');
    dir = await mkdtemp(join(tmpdir(), 'kauthz-grpc-login-'));
    idp = await startOidcIdp({
      name: 'opa',
      clients: clients(['idp-a']),
      users: { alice: { preferred_username: 'alice', email: 'alice@example.com', email_verified: true, groups: ['kestra-devs', 'ops'] } },
    });
    harness = await startHarness(dir, 'one', { 'idp-a': idp });
  });

  after(async () => {
    await harness?.close();
    await idp?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('XHR / API requests without a session get 401, not a redirect', async () => {
    const res = await harness.check({ path: '/app/data', headers: { accept: 'application/json', 'x-requested-with': 'XMLHttpRequest' } });
    denied(res, 401);
    assert.equal(headerOf(res.denied_response?.headers, 'location'), undefined);
  });

  test('navigation → IdP → callback → session → allowed with identity headers, our cookies stripped', async () => {
    const original = '/app/flows?tab=all&page=2';

    // 1. A browser navigation without a session: to the one provider (possibly via our /oauth/login/idp-a).
    const first = await toProvider(harness, denied(await harness.check({ path: original, headers: BROWSER }), 302));
    const authorizeUrl = new URL(headerOf(first.headers, 'location') ?? '');
    assert.equal(authorizeUrl.origin, idp.issuer);
    assert.equal(authorizeUrl.searchParams.get('response_type'), 'code');
    assert.equal(authorizeUrl.searchParams.get('code_challenge_method'), 'S256');
    assert.ok(authorizeUrl.searchParams.get('state'));
    assert.ok(authorizeUrl.searchParams.get('nonce'));
    assert.equal(authorizeUrl.searchParams.get('redirect_uri'), `${EXTERNAL}/oauth/callback/idp-a`);
    const stateLines = headersOf(first.headers, 'set-cookie');
    assert.ok(stateLines.length >= 1, 'the login state travels in a cookie');
    for (const line of stateLines) {
      assert.match(line, /;\s*HttpOnly/i);
      assert.match(line, /;\s*Secure/i, 'external URL is https');
      const maxAge = /;\s*max-age=(\d+)/i.exec(line);
      if (maxAge) assert.ok(Number(maxAge[1]) <= 300, 'login state lives at most 5 minutes');
    }
    const jar = cookiesSet(stateLines);

    // 2. The IdP's login and consent forms, walked by an HTTP client.
    const handoff = await idp.loginWith(authorizeUrl.toString(), 'alice');
    const callback = new URL(handoff.url);
    assert.equal(callback.origin + callback.pathname, `${EXTERNAL}/oauth/callback/idp-a`);
    assert.ok(callback.searchParams.get('code'));

    // 3. The callback, as Envoy asks about it: a denied 302 carrying the session.
    const done = denied(await harness.check({
      path: callback.pathname + callback.search,
      headers: { ...BROWSER, cookie: cookieHeader(jar) },
    }), 302);
    const back = new URL(headerOf(done.headers, 'location') ?? '', EXTERNAL);
    assert.equal(back.origin, EXTERNAL);
    assert.equal(back.pathname + back.search, original);
    const sessionLines = headersOf(done.headers, 'set-cookie');
    const session = sessionLines.find((l) => l.startsWith('JWT='));
    assert.ok(session, `a session cookie named JWT, got ${sessionLines.map((l) => l.split('=')[0]).join(', ')}`);
    assert.match(session, /;\s*HttpOnly/i);
    assert.match(session, /;\s*Secure/i);
    assert.match(session, /;\s*SameSite=Lax/i);
    assert.ok(Buffer.byteLength(session) < 4096, 'cookie stays under 4 KB with its attributes');
    for (const [name, value] of cookiesSet(sessionLines)) jar.set(name, value);
    assert.ok(jar.get('JWT'));

    // 4. The next navigation carries the session: allowed, identity upstream, our cookies gone.
    const ok = allowed(await harness.check({
      path: original,
      headers: { ...BROWSER, cookie: cookieHeader(jar, 'theme=dark'), 'x-kestra-user': 'mallory' },
    }));
    assert.equal(headerOf(ok.headers, 'x-kestra-user'), 'alice');
    assert.equal(headerOf(ok.headers, 'x-kestra-email'), 'alice@example.com');
    assert.deepEqual(headerOf(ok.headers, 'x-kestra-groups')?.split(',').sort(), ['kestra-devs', 'ops']);
    const upstreamCookie = headerOf(ok.headers, 'cookie');
    assert.equal(upstreamCookie, 'theme=dark', 'only the cookies that are not ours go upstream');
    assert.equal(idp.counts.token, 1);
  });

  test('a session cookie from another secret is not accepted (navigation → login again)', async () => {
    const res = await harness.check({ path: '/app/x', headers: { ...BROWSER, cookie: 'JWT=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJtYWxsb3J5In0.c2lnbmF0dXJl' } });
    const d = await toProvider(harness, denied(res, 302));
    assert.equal(new URL(headerOf(d.headers, 'location') ?? '').origin, idp.issuer);
  });
});

describe('browser login through the gRPC door (two providers)', () => {
  let dir: string;
  let idpA: OidcIdp;
  let idpB: OidcIdp;
  let harness: Harness;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kauthz-grpc-login2-'));
    idpA = await startOidcIdp({ name: 'opa', clients: clients(['idp-a']) });
    idpB = await startOidcIdp({ name: 'opb', clients: clients(['idp-b']), users: { bob: { preferred_username: 'bob', groups: ['b-team'] } } });
    harness = await startHarness(dir, 'two', { 'idp-a': idpA, 'idp-b': idpB });
  });

  after(async () => {
    await harness?.close();
    await idpA?.stop();
    await idpB?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('a navigation goes to the chooser; /oauth/login/idp-b starts B; the login completes through Check', async () => {
    const original = '/app/reports';
    const toChooser = denied(await harness.check({ path: original, headers: BROWSER }), 302);
    const chooser = new URL(headerOf(toChooser.headers, 'location') ?? '', EXTERNAL);
    assert.equal(chooser.origin, EXTERNAL);
    assert.equal(chooser.pathname, '/login');

    // What the chooser's "provider B" link asks for, carrying the original URL along.
    const start = denied(await harness.check({ path: `/oauth/login/idp-b${chooser.search}`, headers: BROWSER }), 302);
    const authorizeUrl = new URL(headerOf(start.headers, 'location') ?? '');
    assert.equal(authorizeUrl.origin, idpB.issuer);
    const jar = cookiesSet(headersOf(start.headers, 'set-cookie'));

    const handoff = await idpB.loginWith(authorizeUrl.toString(), 'bob');
    const callback = new URL(handoff.url);
    assert.equal(callback.pathname, '/oauth/callback/idp-b');
    const done = denied(await harness.check({ path: callback.pathname + callback.search, headers: { ...BROWSER, cookie: cookieHeader(jar) } }), 302);
    const back = new URL(headerOf(done.headers, 'location') ?? '', EXTERNAL);
    assert.equal(back.origin, EXTERNAL);
    assert.equal(back.pathname, original);
    for (const [name, value] of cookiesSet(headersOf(done.headers, 'set-cookie'))) jar.set(name, value);

    const ok = allowed(await harness.check({ path: original, headers: { ...BROWSER, cookie: cookieHeader(jar) } }));
    assert.equal(headerOf(ok.headers, 'x-kestra-user'), 'bob');
    assert.equal(headerOf(ok.headers, 'x-kestra-groups'), 'b-team');
    assert.ok(ok.headers_to_remove?.includes('cookie') || headerOf(ok.headers, 'cookie') === undefined,
      'nothing but our cookies was sent, so no cookie header goes upstream');
    assert.equal(idpA.counts.token, 0);
    assert.equal(idpB.counts.token, 1);
  });
});
