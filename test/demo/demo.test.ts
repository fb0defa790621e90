/**
 * `npm run demo`, run for real: `node dist/demo/run-demo.js --json
 * --random-ports` as a child process (embedded oidc-provider, the stand-in
 * upstream, kestra-authz as its own child, Caddy when installed). For each
 * demo user the real login is walked with plain HTTP requests and a cookie
 * jar (the IdP's own sign-in form, the real password), then the documented
 * verdicts are checked:
 *
 *   alice (kestra-admins):  read 200, write 200
 *   bob   (kestra-viewers): read 200, write 403 FLOW:UPDATE
 *   nobody:                 API 401, browser 302 to the login
 *
 * Through the HTTP door directly (always), through the gRPC door (anonymous),
 * and through Caddy to the upstream when Caddy is installed (skipped with a
 * message otherwise; CI=true makes a missing Caddy a failure). Finally
 * SIGINT stops the demo: exit 0, every child gone, the temp dir removed.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { envoyCheckRequest } from '../helpers/envoy-check-request.js';
import { createAuthzClient, headerOf } from '../helpers/grpc-client.js';
import { proxySkipReason } from '../helpers/proxies.js';
import { DemoBrowser, type Answer } from './demo-browser.js';

const CLI = fileURLToPath(new URL('../../../bin/kestra-authz.js', import.meta.url));
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const DEMO = fileURLToPath(new URL('../../demo/run-demo.js', import.meta.url));
const READ_PATH = '/api/v1/main/flows/demo/hello';
const WRITE_PATH = '/api/v1/main/flows/demo';
const START_DEADLINE_MS = 90_000;
const STOP_DEADLINE_MS = 30_000;

interface ReadyLine {
  event: 'ready';
  url: string | null;
  noProxyReason: string | null;
  proxy: { name: 'caddy'; pid: number; url: string } | null;
  idp: { issuer: string };
  upstream: { url: string };
  authz: { pid: number; httpDoor: string; grpcDoor: string; management: string; config: string; externalUrl: string };
  users: { login: string; password: string; groups: string[] }[];
  tempDir: string;
}

interface UpstreamEcho {
  upstream: string;
  method: string;
  url: string;
  identity: Record<string, string>;
}

const caddySkip = await proxySkipReason('caddy');

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function waitFor(what: string, condition: () => boolean, deadlineMs: number): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

let demo: ChildProcess;
let ready: ReadyLine;
let output = '';
let exitCode: number | null | undefined;
let exited: Promise<void>;

const userNamed = (login: string) => {
  const user = ready.users.find((u) => u.login === login);
  assert.ok(user, `demo user ${login}`);
  return user;
};

/** The HTTP door asked as Caddy's forward_auth asks it, with a browser's cookies. */
async function forwardAuth(browser: DemoBrowser | undefined, method: string, uri: string, navigation = false): Promise<Answer> {
  const headers: Record<string, string> = {
    'x-forwarded-method': method, 'x-forwarded-uri': uri, 'x-forwarded-proto': 'http',
    'x-forwarded-host': new URL(ready.authz.externalUrl).host,
    ...(navigation ? { accept: 'text/html', 'sec-fetch-mode': 'navigate' } : { accept: 'application/json' }),
  };
  const b = browser ?? new DemoBrowser();
  return b.request(`${ready.authz.httpDoor}/forward-auth`, { headers });
}

/** Logs in at the HTTP door directly: /oauth/login/demo → IdP sign-in → the callback, replayed at the door. */
async function loginAtDoor(login: string, password: string): Promise<DemoBrowser> {
  const browser = new DemoBrowser();
  const callback = (url: URL) => url.pathname.startsWith('/oauth/callback/');
  const toCallback = await browser.navigate(`${ready.authz.httpDoor}/oauth/login/demo?redirect=%2F`, { login, password }, callback);
  assert.ok(toCallback.stoppedBefore, `the IdP sends ${login} back to the callback (last answer ${toCallback.status} at ${toCallback.url}: ${toCallback.text.slice(0, 300)})`);
  const back = new URL(toCallback.stoppedBefore);
  assert.equal(back.origin, ready.authz.externalUrl, 'the registered redirect URI is <external-url>/oauth/callback/demo');
  // Through Caddy this path would reach the door unchanged; here it goes there directly.
  const done = await browser.open(`${ready.authz.httpDoor}${back.pathname}${back.search}`);
  assert.equal(done.status, 302, done.text);
  assert.equal(done.headers.get('location'), '/');
  assert.ok(browser.jar.get('JWT'), `${login} holds a session cookie`);
  return browser;
}

/** `kestra-authz explain` on the demo's config with a session cookie, as the banner suggests: exit code and output. */
function explainWithSession(browser: DemoBrowser, method: string, path: string): Promise<{ code: number; stdout: string }> {
  const args = [CLI, 'explain', '--config', ready.authz.config, '--method', method, '--path', path, '--cookie', `JWT=${browser.jar.get('JWT')}`];
  return new Promise((resolve) => {
    execFile(process.execPath, args, { cwd: ROOT, timeout: 60_000 }, (err, stdout) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? -1) : 0, stdout });
    });
  });
}

before(async () => {
  demo = spawn(process.execPath, [DEMO, '--json', '--random-ports'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  exited = new Promise((resolve) => demo.once('close', (code) => { exitCode = code; resolve(); }));
  demo.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString('utf8'); });
  const lines = createInterface({ input: demo.stdout! });
  ready = await new Promise<ReadyLine>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the demo printed no ready line within ${START_DEADLINE_MS} ms:\n${output}`)), START_DEADLINE_MS);
    lines.on('line', (line) => {
      output += `${line}\n`;
      if (!line.startsWith('{')) return;
      clearTimeout(timer);
      resolve(JSON.parse(line) as ReadyLine);
    });
    void exited.then(() => { clearTimeout(timer); reject(new Error(`the demo exited (${exitCode}) before it was ready:\n${output}`)); });
  });
});

after(async () => {
  // Normally the last test stopped it; if a test failed first, stop everything here.
  if (exitCode === undefined && demo?.pid) {
    demo.kill('SIGTERM');
    const timer = setTimeout(() => demo.kill('SIGKILL'), STOP_DEADLINE_MS);
    await exited;
    clearTimeout(timer);
  }
  for (const pid of [ready?.authz.pid, ready?.proxy?.pid]) {
    if (pid && isRunning(pid)) process.kill(pid, 'SIGKILL');
  }
});

test('the demo announces its parts, users and passwords, and kestra-authz runs on the generated config', () => {
  assert.deepEqual(ready.users.map((u) => [u.login, u.groups]), [['alice', ['kestra-admins']], ['bob', ['kestra-viewers']]]);
  for (const u of ready.users) assert.match(u.password, /^[A-Za-z0-9]{12}$/);
  assert.notEqual(ready.users[0]!.password, ready.users[1]!.password);
  assert.ok(isRunning(ready.authz.pid), 'kestra-authz runs as a child process');
  const config = readFileSync(ready.authz.config, 'utf8');
  assert.match(config, /allow-insecure-http-issuers: true/);
  assert.ok(config.includes(`issuer: ${ready.idp.issuer}`));
  if (!ready.proxy) {
    assert.ok(caddySkip, `Caddy is installed but the demo ran without it: ${ready.noProxyReason}`);
    assert.equal(ready.url, null);
    assert.match(ready.noProxyReason ?? '', /Caddy is not installed/);
    assert.match(output, /WITHOUT a proxy: Caddy is not installed/, 'the banner says why there is no browser URL');
  } else {
    assert.equal(ready.url, ready.proxy.url);
    assert.ok(isRunning(ready.proxy.pid), 'Caddy runs as a child process');
  }
  assert.ok(output.includes('Ctrl-C stops everything'), output);
});

describe('through the HTTP door directly', () => {
  test('nobody: an API call gets 401 with a Bearer challenge, a browser navigation 302 to the login', async () => {
    const api = await forwardAuth(undefined, 'GET', READ_PATH);
    assert.equal(api.status, 401, api.text);
    assert.match(api.headers.get('www-authenticate') ?? '', /^Bearer realm="kestra-authz"/);
    const page = await forwardAuth(undefined, 'GET', READ_PATH, true);
    assert.equal(page.status, 302, page.text);
    const location = new URL(page.headers.get('location') ?? '', ready.authz.externalUrl);
    assert.ok(location.href.startsWith(`${ready.idp.issuer}/`) || location.pathname === '/oauth/login/demo', location.href);
  });

  test('a wrong password is refused at the IdP and yields no session', async () => {
    const browser = new DemoBrowser();
    const answer = await browser.navigate(`${ready.authz.httpDoor}/oauth/login/demo`, { login: 'alice', password: 'not-the-password' }, (u) => u.pathname.startsWith('/oauth/callback/'));
    assert.equal(answer.stoppedBefore, undefined, 'never sent back to the callback');
    assert.equal(answer.status, 401);
    assert.match(answer.text, /Wrong user name or password/);
    assert.equal(browser.jar.get('JWT'), undefined);
  });

  test('alice (kestra-admins): read 200 and write 200, with her identity headers', async () => {
    const alice = userNamed('alice');
    const browser = await loginAtDoor(alice.login, alice.password);
    const read = await forwardAuth(browser, 'GET', READ_PATH);
    assert.equal(read.status, 200, read.text);
    assert.equal(read.headers.get('x-kestra-user'), 'alice');
    assert.equal(read.headers.get('x-kestra-email'), 'alice@demo.invalid');
    assert.equal(read.headers.get('x-kestra-groups'), 'kestra-admins');
    const write = await forwardAuth(browser, 'POST', WRITE_PATH);
    assert.equal(write.status, 200, write.text);
    const explained = await explainWithSession(browser, 'POST', WRITE_PATH);
    assert.equal(explained.code, 0, explained.stdout);
    assert.match(explained.stdout, /verdict: ALLOW 200 permitted/);
  });

  test('bob (kestra-viewers): read 200, write 403 naming FLOW:UPDATE', async () => {
    const bob = userNamed('bob');
    const browser = await loginAtDoor(bob.login, bob.password);
    const read = await forwardAuth(browser, 'GET', READ_PATH);
    assert.equal(read.status, 200, read.text);
    assert.equal(read.headers.get('x-kestra-user'), 'bob');
    assert.equal(read.headers.get('x-kestra-groups'), 'kestra-viewers');
    const write = await forwardAuth(browser, 'POST', WRITE_PATH);
    assert.equal(write.status, 403, write.text);
    const body = JSON.parse(write.text) as { error: string; permission: string; namespace: string };
    assert.equal(body.error, 'permission_denied');
    assert.equal(body.permission, 'FLOW:UPDATE');
    assert.equal(body.namespace, 'demo');
    const explained = await explainWithSession(browser, 'POST', WRITE_PATH);
    assert.equal(explained.code, 3, explained.stdout);
    assert.match(explained.stdout, /verdict: DENY 403 permission_denied/);
  });
});

test('through the gRPC door: an anonymous API Check is denied 401', async () => {
  const client = createAuthzClient(Number(ready.authz.grpcDoor.split(':')[1]));
  try {
    const res = await client.check(envoyCheckRequest({ path: READ_PATH, host: new URL(ready.authz.externalUrl).host, scheme: 'http', headers: { accept: 'application/json' } }));
    assert.equal(res.denied_response?.status?.code, 401);
    assert.match(headerOf(res.denied_response?.headers, 'www-authenticate') ?? '', /^Bearer/);
  } finally {
    client.close();
  }
});

describe('through Caddy to the upstream, as a browser sees it', { skip: caddySkip }, () => {
  const app = () => ready.url!;
  const json = (answer: Answer) => JSON.parse(answer.text) as UpstreamEcho;

  /** The whole browser login: open the app, sign in at the IdP, land back on the app's page. */
  async function loginThroughCaddy(login: string): Promise<DemoBrowser> {
    const user = userNamed(login);
    const browser = new DemoBrowser();
    const page = await browser.navigate(`${app()}/`, { login: user.login, password: user.password });
    assert.equal(page.status, 200, `${page.url}: ${page.text.slice(0, 300)}`);
    assert.equal(new URL(page.url).origin, app(), 'back on the app after the login');
    assert.match(page.text, new RegExp(`Hello, ${login}`));
    return browser;
  }

  test('nobody: the page redirects to the login, the API answers 401 from kestra-authz', async () => {
    const page = await new DemoBrowser().open(`${app()}/`);
    assert.equal(page.status, 302);
    const api = await new DemoBrowser().request(`${app()}${READ_PATH}`, { headers: { accept: 'application/json' } });
    assert.equal(api.status, 401, api.text);
    assert.equal((JSON.parse(api.text) as { error: string }).error, 'no_credentials');
  });

  test('alice: read and write reach the upstream as alice; a spoofed identity header is replaced', async () => {
    const browser = await loginThroughCaddy('alice');
    const read = await browser.request(`${app()}${READ_PATH}`, { headers: { accept: 'application/json', 'x-kestra-user': 'mallory' } });
    assert.equal(read.status, 200, read.text);
    assert.equal(json(read).upstream, 'demo-kestra-stand-in');
    assert.equal(json(read).identity['x-kestra-user'], 'alice');
    assert.equal(json(read).identity['x-kestra-groups'], 'kestra-admins');
    const write = await browser.request(`${app()}${WRITE_PATH}`, { method: 'POST', headers: { accept: 'application/json', origin: app() } });
    assert.equal(write.status, 200, write.text);
    assert.equal(json(write).method, 'POST');
    assert.equal(json(write).identity['x-kestra-user'], 'alice');
  });

  test('bob: read reaches the upstream, write is refused 403 before it', async () => {
    const browser = await loginThroughCaddy('bob');
    const read = await browser.request(`${app()}${READ_PATH}`, { headers: { accept: 'application/json' } });
    assert.equal(read.status, 200, read.text);
    assert.equal(json(read).identity['x-kestra-user'], 'bob');
    const write = await browser.request(`${app()}${WRITE_PATH}`, { method: 'POST', headers: { accept: 'application/json', origin: app() } });
    assert.equal(write.status, 403, write.text);
    assert.equal((JSON.parse(write.text) as { permission: string }).permission, 'FLOW:UPDATE');
  });

  test('sign out: POST /logout clears the session, the IdP ends its own and sends the browser back to the app', async () => {
    const browser = await loginThroughCaddy('alice');
    const out = await browser.request(`${app()}/logout`, { method: 'POST', headers: { origin: app() } });
    assert.equal(out.status, 302, out.text);
    const endSession = out.headers.get('location') ?? '';
    assert.ok(endSession.startsWith(`${ready.idp.issuer}/`), endSession);
    assert.equal(browser.jar.get('JWT'), '', 'the session cookie is cleared');
    // The IdP checks the post-logout redirect URI it was given (<external-url>/logout) before asking.
    const confirm = await browser.open(endSession);
    assert.equal(confirm.status, 200, confirm.text);
    const form = /<form[^>]*action="([^"]+)"[^>]*>([\s\S]*?)<\/form>/.exec(confirm.text);
    assert.ok(form && confirm.text.includes('op.logoutForm'), confirm.text);
    const hidden = Object.fromEntries([...form[2]!.matchAll(/<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
    const done = await browser.request(new URL(form[1]!, endSession).toString(), { form: { ...hidden, logout: 'yes' } });
    assert.ok(done.status >= 300 && done.status < 400, `${done.status} ${done.text.slice(0, 300)}`);
    assert.equal(done.headers.get('location'), `${app()}/logout`);
    const back = await browser.open(`${app()}/logout`);
    assert.equal(back.status, 302);
    assert.equal(back.headers.get('location'), '/');
    const again = await browser.open(`${app()}/`);
    assert.equal(again.status, 302, 'signed out: the app sends the browser to the login again');
  });
});

test('SIGINT stops the demo: exit 0, every child process gone, temporary files removed', async () => {
  const pids = [ready.authz.pid, ...(ready.proxy ? [ready.proxy.pid] : [])];
  demo.kill('SIGINT');
  const timer = setTimeout(() => demo.kill('SIGKILL'), STOP_DEADLINE_MS);
  await exited;
  clearTimeout(timer);
  assert.equal(exitCode, 0, output);
  for (const pid of pids) await waitFor(`pid ${pid} to end`, () => !isRunning(pid), 10_000);
  assert.equal(existsSync(ready.tempDir), false, `${ready.tempDir} removed`);
  assert.match(output, /demo: stopped/);
});
