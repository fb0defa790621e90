/**
 * Our session cookie, sent under a name with whitespace around it
 * (`JWT =…`, `\tJWT=…`, `JWT\t= …`), through the real service: the reader
 * that authenticates the cookie and the rewrite that strips our cookies from
 * the upstream `Cookie` header are one parser (src/core/cookie-header.ts), so
 * whatever authenticates is also stripped — through the gRPC door (Envoy
 * replaces the upstream Cookie with the one we answer), and through a real
 * Caddy (`copy_headers Cookie`) and a real nginx (`auth_request_set` of the
 * answer's Cookie) in front of an echoing upstream, as the README's recipes
 * configure them.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bearerServiceYaml } from '../helpers/bearer-service-config.js';
import { createUsersWithCli } from '../helpers/cli-users.js';
import { headerOf } from '../helpers/grpc-client.js';
import { startGrpcDoor, type GrpcDoor } from '../helpers/grpc-door.js';
import { caddyForwardAuthSite, KESTRA_IDENTITY_HEADERS, nginxAuthRequest, proxySkipReason, startCaddy, startNginx, type RunningProxy } from '../helpers/proxies.js';
import { startTokenIssuer, type TokenIssuer } from '../helpers/token-issuer.js';
import { echoedHeader, startUpstream, type EchoedRequest, type Upstream } from '../helpers/upstream.js';
import { expectAllowed } from './attack-kit.js';

const API = { accept: 'application/json' };
const PROTECTED = '/api/v1/main/flows/company.team/hello';
const caddySkip = await proxySkipReason('caddy');
const nginxSkip = await proxySkipReason('nginx');

/** Spellings of our cookie's name a client may send; each authenticates, none may reach the upstream. */
const SPELLINGS: readonly ((session: string) => string)[] = [
  (s) => `JWT =${s}`,
  (s) => `JWT\t=${s}`,
  (s) => `\tJWT=${s}`,
  (s) => `JWT = ${s}`,
  (s) => `theme=dark;JWT  =${s}`,
];

describe('our session cookie under a spaced name (real service)', () => {
  let dir: string;
  let issuer: TokenIssuer;
  let door: GrpcDoor;
  let httpDoor: string;
  let session: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kauthz-cookie-attacks-'));
    issuer = await startTokenIssuer();
    await issuer.addKey('k1');
    const configPath = join(dir, 'config.yaml');
    await writeFile(configPath, bearerServiceYaml({ dir, issuer: issuer.issuer }));
    await createUsersWithCli(configPath, ['--username', 'ops', '--password', 'correct-horse-1', '--groups', 'kestra-devs']);
    door = await startGrpcDoor(configPath);
    httpDoor = `http://127.0.0.1:${door.service.httpPort}`;
    const login = await fetch(`${httpDoor}/login`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'ops', password: 'correct-horse-1' }),
    });
    assert.equal(login.status, 200, await login.text());
    const jwt = login.headers.getSetCookie().find((c) => c.startsWith('JWT='));
    assert.ok(jwt, 'the password login sets the session cookie');
    session = jwt.slice('JWT='.length, jwt.indexOf(';'));
  });

  after(async () => {
    await door?.close();
    await issuer?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** Through `proxy` to the echoing upstream: allowed as ops, and the upstream Cookie holds the client's other cookies only. */
  const expectOnlyOtherCookiesUpstream = async (proxy: RunningProxy, spell: (session: string) => string) => {
    const cookie = `${spell(session)}; lang=en`;
    const res = await fetch(`${proxy.url}${PROTECTED}`, { headers: { ...API, cookie } });
    const text = await res.text();
    assert.equal(res.status, 200, text);
    const echo = JSON.parse(text) as EchoedRequest;
    assert.equal(echoedHeader(echo, 'x-kestra-user'), 'ops');
    const seen = (echo.headers.cookie ?? []).join('; ');
    assert.ok(!seen.includes(session), `the session reached the upstream through ${proxy.name} for ${JSON.stringify(cookie.slice(0, 6))}`);
    assert.match(seen, /^(theme=dark; )?lang=en$/);
  };

  test('gRPC door: each spelling authenticates and the upstream Cookie keeps only the client\'s other cookies', async () => {
    for (const spell of SPELLINGS) {
      const cookie = `${spell(session)}; lang=en`;
      const ok = expectAllowed(await door.check({ method: 'GET', path: PROTECTED, headers: { ...API, cookie } }));
      assert.equal(headerOf(ok.headers, 'x-kestra-user'), 'ops', JSON.stringify(cookie.slice(0, 6)));
      const upstreamCookie = headerOf(ok.headers, 'cookie') ?? '';
      assert.ok(!upstreamCookie.includes(session), `the session reached the upstream for ${JSON.stringify(cookie.slice(0, 6))}`);
      assert.match(upstreamCookie, /(^|; )lang=en$/);
    }
  });

  test('gRPC door: the cookie alone is removed from the upstream request', async () => {
    const ok = expectAllowed(await door.check({ method: 'GET', path: PROTECTED, headers: { ...API, cookie: `JWT =${session}` } }));
    const removed = ok.headers_to_remove ?? [];
    assert.ok(removed.includes('cookie'), `cookie in headers_to_remove: ${JSON.stringify(removed)}`);
    assert.equal(headerOf(ok.headers, 'cookie'), undefined);
  });

  describe('through a real Caddy (forward_auth, copy_headers Cookie)', { skip: caddySkip }, () => {
    let upstream: Upstream;
    let caddy: RunningProxy;

    before(async () => {
      upstream = await startUpstream();
      caddy = await startCaddy({
        site: caddyForwardAuthSite({
          authz: `127.0.0.1:${door.service.httpPort}`, upstream: upstream.url,
          copyHeaders: [...KESTRA_IDENTITY_HEADERS, 'Cookie'], stripHeaders: KESTRA_IDENTITY_HEADERS,
        }),
      });
    });

    after(async () => {
      await caddy?.stop();
      await upstream?.stop();
    });

    test('the upstream gets the client\'s other cookies and never the session, whatever its spelling', async () => {
      for (const spell of [(s: string) => `JWT=${s}`, ...SPELLINGS]) await expectOnlyOtherCookiesUpstream(caddy, spell);
    });
  });

  describe('through a real nginx (auth_request, the docs/recipes/nginx.md recipe)', { skip: nginxSkip }, () => {
    let upstream: Upstream;
    let nginx: RunningProxy;

    before(async () => {
      upstream = await startUpstream();
      nginx = await startNginx(nginxAuthRequest({ authz: `http://127.0.0.1:${door.service.httpPort}`, upstream: upstream.url }));
    });

    after(async () => {
      await nginx?.stop();
      await upstream?.stop();
    });

    test('the upstream gets the client\'s other cookies and never the session, whatever its spelling', async () => {
      for (const spell of [(s: string) => `JWT=${s}`, ...SPELLINGS]) await expectOnlyOtherCookiesUpstream(nginx, spell);
    });

    test('a request with only our cookie reaches the upstream without a Cookie header', async () => {
      const res = await fetch(`${nginx.url}${PROTECTED}`, { headers: { ...API, cookie: `JWT=${session}` } });
      const echo = JSON.parse(await res.text()) as EchoedRequest;
      assert.equal(res.status, 200);
      assert.equal(echo.headers.cookie, undefined);
    });
  });
});
