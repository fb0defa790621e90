/**
 * The audit log of a browser session: a real OIDC login (oidc-provider)
 * through the gRPC door, then requests carrying the session cookie. The
 * login's own steps are logged as `login-flow`; a request on the session is
 * logged with `via: session` and its provider; no cookie value (session,
 * refresh, login state), authorization code or state reaches the file.
 *
 * Run with NODE_EXTRA_CA_CERTS=test/fixtures/tls/cert.pem (the test IdP is HTTPS).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cookieHeader, type CookieJar } from '../helpers/cookie-jar.js';
import { AT_EXTERNAL_URL, EXTERNAL_URL, expectAllowed, startGrpcDoor, type GrpcDoor } from '../helpers/grpc-door.js';
import { beginLoginAtPage, finishLogin } from '../helpers/login-session.js';
import { startOidcIdp, type OidcIdp } from '../helpers/oidc-idp.js';
import { TEST_CLIENT, oidcServiceYaml } from '../helpers/oidc-service-config.js';

const API = { accept: 'application/json' };
const BIN = fileURLToPath(new URL('../../../bin/kestra-authz.js', import.meta.url));

describe('audit log of a browser session (real OIDC login, gRPC door)', () => {
  let dir: string;
  let idp: OidcIdp;
  let door: GrpcDoor | undefined;
  let jar: CookieJar;
  let callbackUrl: URL;
  let loginState: string[];
  let text: string;
  let configPath: string;

  before(async () => {
    assert.ok(process.env.NODE_EXTRA_CA_CERTS, 'run with NODE_EXTRA_CA_CERTS=test/fixtures/tls/cert.pem (the test IdP is HTTPS)');
    dir = await mkdtemp(join(tmpdir(), 'kauthz-audit-session-'));
    idp = await startOidcIdp({
      name: 'audit',
      clients: [{ ...TEST_CLIENT, redirect_uris: [`${EXTERNAL_URL}/oauth/callback/idp`] }],
      users: { carol: { preferred_username: 'carol', email: 'carol@example.com', email_verified: true, groups: ['staff'] } },
    });
    configPath = join(dir, 'config.yaml');
    await writeFile(configPath, oidcServiceYaml({
      secret: 'audit-session-test-secret-0123456789abcdef',
      externalUrl: EXTERNAL_URL,
      dir,
      providers: { idp },
      scopes: ['openid', 'profile', 'email', 'groups'],
      security: { oidc: { 'groups-claim-path': 'groups' } },
      authz: { default: 'authenticated', audit: { enabled: true, output: 'audit.jsonl', 'sample-allows': 1 } },
    }));
    await writeFile(join(dir, 'users.yaml'), 'users: []\n', { mode: 0o600 });
    door = await startGrpcDoor(configPath, AT_EXTERNAL_URL);
    const start = await beginLoginAtPage(door, '/app/home');
    jar = start.jar;
    loginState = [...start.jar.values()];
    const handoff = await idp.newAgent().login(start.authorizeUrl.toString(), 'carol');
    callbackUrl = new URL(handoff.url);
    await finishLogin(door, handoff.url, jar);
    assert.ok(jar.get('JWT'), 'logged in');
    expectAllowed(await door.check({ path: '/app/home?tab=secret-tab', headers: { ...API, cookie: cookieHeader(jar), 'x-request-id': 'on-session' } }));
    await door.close();
    door = undefined;
    text = await readFile(join(dir, 'audit.jsonl'), 'utf8');
  });
  after(async () => {
    await door?.close();
    await idp?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('a request on the session: via session, the provider, name and groups; never the email', () => {
    const lines = text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    const onSession = lines.find((l) => l.requestId === 'on-session');
    assert.ok(onSession, text);
    assert.equal(onSession.path, '/app/home');
    assert.equal(onSession.verdict, 'allow');
    const identity = onSession.identity as Record<string, unknown>;
    assert.equal(identity.via, 'session');
    assert.equal(identity.provider, 'idp');
    assert.equal(identity.name, 'carol');
    assert.deepEqual(identity.groups, ['staff']);
    assert.equal(identity.email, undefined);
    // The login itself: a redirect for the page, the flow's endpoints as login-flow.
    assert.ok(lines.some((l) => l.rule === 'login-flow' && String(l.path).startsWith('/oauth/callback/')), text);
    assert.ok(lines.some((l) => l.status === 302 && l.path === '/app/home' && l.browser === true), text);
  });

  test('no cookie value, authorization code, state or email anywhere in the file', () => {
    const code = callbackUrl.searchParams.get('code');
    const state = callbackUrl.searchParams.get('state');
    assert.ok(code && state && jar.get('JWT'));
    // Cleared cookies (empty values) are nothing to search for.
    const secrets = [...jar.values(), ...loginState, code, state, 'carol@example.com', 'secret-tab'].filter((v) => v.length >= 8);
    assert.ok(secrets.includes(jar.get('JWT')!) && secrets.includes(code) && secrets.includes(state));
    for (const secret of secrets) {
      assert.ok(!text.includes(secret), `the audit log holds ${secret.slice(0, 8)}…`);
    }
  });

  test('replayed under the same config (real CLI): the session allow and the login redirect stay; login-flow lines are not replayed', async () => {
    const { code, stdout, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, [BIN, 'audit', 'replay', join(dir, 'audit.jsonl'), '--config', configPath], { timeout: 60_000 }, (err, out, errOut) => {
        resolve({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, stdout: out, stderr: errOut });
      });
    });
    assert.equal(code, 0, `${stdout}${stderr}`);
    assert.match(stdout, /^2 decisions replayed, 0 would change \(\d+ not replayed: login-flow endpoints, 5xx failures\)$/m);
  });
});
