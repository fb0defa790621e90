/**
 * Real reverse proxies for tests: Caddy (`forward_auth`) and nginx
 * (`auth_request`) from the Debian packages, each started with a generated
 * config in its own temp dir, on a free 127.0.0.1 port, and stopped by pid.
 *
 *   const caddy = await startCaddy({ site: caddyForwardAuthSite({ authz, upstream: up.url }) });
 *   await fetch(`${caddy.url}/api/v1/main/flows`);
 *   await caddy.stop();
 *
 * Where a binary is missing a test should skip with `proxySkipReason()`'s
 * message on a developer machine, but fail in CI (CI=true).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NGINX_SET_COOKIE_SLOTS } from '../../src/server/refreshed-cookies.js';
import { isExecutable, missingToolSkipReason } from './executables.js';
export { freePort } from './free-port.js';
import { freePort } from './free-port.js';

export const CADDY_PATH = '/usr/bin/caddy';
export const NGINX_PATH = '/usr/sbin/nginx';

export type ProxyName = 'caddy' | 'nginx';

export class ProxyUnavailableError extends Error {
  readonly code = 'ERR_PROXY_UNAVAILABLE' as const;
  constructor(message: string) {
    super(message);
    this.name = 'ProxyUnavailableError';
  }
}

export class ProxyStartError extends Error {
  readonly code = 'ERR_PROXY_START' as const;
  constructor(message: string) {
    super(message);
    this.name = 'ProxyStartError';
  }
}

export interface RunningProxy {
  readonly name: ProxyName;
  readonly pid: number;
  readonly port: number;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** The proxy's own temp dir (config, pid, logs, temp files); removed by stop(). */
  readonly dir: string;
  /** The config the proxy was started with, for failure messages. */
  readonly configText: string;
  /** What the process printed so far (stdout + stderr, and nginx's error log is in dir/error.log). */
  output(): string;
  /** SIGTERM by pid, SIGKILL if it lingers; removes the temp dir. Safe to call twice. */
  stop(): Promise<void>;
}

/** Why the proxy cannot run here, or undefined when it can. Throws in CI (a skipped proxy test must not pass silently). */
export function proxySkipReason(name: ProxyName): Promise<string | undefined> {
  const path = name === 'caddy' ? CADDY_PATH : NGINX_PATH;
  return missingToolSkipReason(path, name, `${name} tests`, (message) => new ProxyUnavailableError(message));
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}

const START_TIMEOUT_MS = 15_000;
const STOP_GRACE_MS = 5_000;
const OUTPUT_LIMIT = 64 * 1024;

interface Launch {
  readonly name: ProxyName;
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  readonly dir: string;
  readonly port: number;
  readonly configText: string;
}

async function launch(spec: Launch): Promise<RunningProxy> {
  let output = '';
  const child: ChildProcess = spawn(spec.command, [...spec.args], { cwd: spec.dir, env: spec.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  const collect = (chunk: Buffer) => { if (output.length < OUTPUT_LIMIT) output += chunk.toString('utf8'); };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => { exited = true; resolve(); }));
  child.once('error', (err) => { output += `\nspawn error: ${err.message}`; });

  const stop = async () => {
    if (!exited && child.pid !== undefined) {
      process.kill(child.pid, 'SIGTERM');
      const timer = setTimeout(() => { if (!exited && child.pid !== undefined) process.kill(child.pid, 'SIGKILL'); }, STOP_GRACE_MS);
      await exit;
      clearTimeout(timer);
    }
    await rm(spec.dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!exited && !(await canConnect(spec.port))) {
    if (Date.now() > deadline) {
      await stop();
      throw new ProxyStartError(`${spec.name} did not listen on 127.0.0.1:${spec.port} within ${START_TIMEOUT_MS} ms:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  if (exited || child.pid === undefined) {
    await stop();
    throw new ProxyStartError(`${spec.name} exited at start:\n${output}\n--- config ---\n${spec.configText}`);
  }
  return {
    name: spec.name,
    pid: child.pid,
    port: spec.port,
    url: `http://127.0.0.1:${spec.port}`,
    dir: spec.dir,
    configText: spec.configText,
    output: () => output,
    stop,
  };
}

/** Starts on a fresh free port; retries twice if the port was taken between picking and binding. */
async function launchOnFreePort(name: ProxyName, prepare: (port: number, dir: string) => Promise<Launch>, fixedPort?: number): Promise<RunningProxy> {
  let lastError: unknown;
  for (let attempt = 0; attempt < (fixedPort === undefined ? 3 : 1); attempt++) {
    const dir = await mkdtemp(join(tmpdir(), `kauthz-${name}-`));
    const port = fixedPort ?? await freePort();
    try {
      return await launch(await prepare(port, dir));
    } catch (err) {
      lastError = err;
      if (!(err instanceof ProxyStartError) || !/address already in use/i.test(err.message)) throw err;
    }
  }
  throw lastError;
}

// ---------------------------------------------------------------- Caddy

export interface CaddyOptions {
  /** Body of the one site block (directives), or a function of the chosen port. */
  readonly site: string | ((port: number) => string);
  /** Serve HTTPS with this certificate and key (PEM files); `url` is then https://. */
  readonly tls?: { readonly cert: string; readonly key: string };
}

export async function startCaddy(options: CaddyOptions): Promise<RunningProxy> {
  if (!(await isExecutable(CADDY_PATH))) throw new ProxyUnavailableError(`${CADDY_PATH} not found`);
  return launchOnFreePort('caddy', async (port, dir) => {
    const site = typeof options.site === 'function' ? options.site(port) : options.site;
    // Any Host on this port (tests send their own Host headers), bound to loopback only.
    const tls = options.tls ? `\ttls ${options.tls.cert} ${options.tls.key}\n` : '';
    const configText = `{\n\tadmin off\n\tauto_https off\n\tstorage file_system ${join(dir, 'data')}\n}\n\n${options.tls ? 'https' : 'http'}://:${port} {\n\tbind 127.0.0.1\n${tls}${indent(site)}\n}\n`;
    const file = join(dir, 'Caddyfile');
    await writeFile(file, configText);
    // Keep Caddy's autosave/data out of the real home directory.
    const env = { ...process.env, HOME: dir, XDG_CONFIG_HOME: join(dir, 'config'), XDG_DATA_HOME: join(dir, 'data') };
    return { name: 'caddy', command: CADDY_PATH, args: ['run', '--config', file, '--adapter', 'caddyfile'], env, dir, port, configText };
  }).then((proxy) => (options.tls ? { ...proxy, url: proxy.url.replace(/^http:/, 'https:') } : proxy));
}

export interface CaddyForwardAuthOptions {
  /** Where the authz HTTP door listens, e.g. `127.0.0.1:8080`. */
  readonly authz: string;
  /** Upstream the proxy sends allowed requests to, e.g. `http://127.0.0.1:9000`. */
  readonly upstream: string;
  /** Path on the authz door Caddy calls (default `/forward-auth`). */
  readonly uri?: string;
  /** Response headers copied onto the upstream request on 2xx. */
  readonly copyHeaders?: readonly string[];
  /** Client request headers deleted before forward_auth runs (defence against spoofing). */
  readonly stripHeaders?: readonly string[];
}

export const KESTRA_IDENTITY_HEADERS: readonly string[] = Object.freeze(['X-Kestra-User', 'X-Kestra-Email', 'X-Kestra-Groups', 'X-Kestra-Tenant', 'X-Kestra-Identity']);

/**
 * The headers that describe the original request to the door's forward-auth
 * mode, in both dialects. A recipe sets or blanks every one of them, so a
 * client's value never reaches the door.
 */
export const FORWARD_AUTH_REQUEST_HEADERS: readonly string[] = Object.freeze(['X-Forwarded-Method', 'X-Forwarded-Uri', 'X-Original-Method', 'X-Original-URI']);

/** What the Caddy recipe (docs/recipes/caddy.md) strips first: the client's identity headers and any description of a request. */
export const CADDY_RECIPE_STRIP: readonly string[] = Object.freeze([...KESTRA_IDENTITY_HEADERS, ...FORWARD_AUTH_REQUEST_HEADERS]);

/**
 * The Caddy recipe as a site body: strip, our own endpoints served directly,
 * forward_auth, reverse_proxy — in that order (a `route` keeps it). With
 * `stripHeaders: CADDY_RECIPE_STRIP` and `copyHeaders` left alone it is the
 * block of docs/recipes/caddy.md.
 */
export function caddyForwardAuthSite(o: CaddyForwardAuthOptions): string {
  const copy = o.copyHeaders ?? [...KESTRA_IDENTITY_HEADERS, 'Cookie'];
  const strip = (o.stripHeaders ?? []).map((h) => `\trequest_header -${h}\n`).join('');
  const authz = o.authz.replace(/^http:\/\//, '');
  const upstream = o.upstream.replace(/^http:\/\//, '');
  return `route {\n${strip}\t@authz path /login /login/* /oauth/* /logout\n\treverse_proxy @authz ${authz} {\n${CADDY_KEEPALIVE}\t}\n`
    + `\tforward_auth ${authz} {\n\t\turi ${o.uri ?? '/forward-auth'}\n\t\tcopy_headers ${copy.join(' ')}\n${CADDY_KEEPALIVE}\t}\n`
    + `\treverse_proxy ${upstream} {\n${CADDY_KEEPALIVE}\t}\n}`;
}

/**
 * Persistent connections (docs/recipes/keep-alive.md): idle connections kept
 * 60 s, shorter than the door's 75 s keep-alive, so Caddy always closes
 * first; up to 32 idle per backend. `keepalive_idle_conns_per_host` is the
 * one that matters: left unset Caddy 2.6 keeps Go's default of 2 idle per
 * backend, so under more than two concurrent checks it opens (and drops) a
 * connection for nearly every one (test/http/keep-alive-recipes.test.ts).
 */
export const CADDY_KEEPALIVE = '\t\ttransport http {\n\t\t\tkeepalive 60s\n\t\t\tkeepalive_idle_conns 64\n\t\t\tkeepalive_idle_conns_per_host 32\n\t\t}\n';

// ---------------------------------------------------------------- nginx

export interface NginxOptions {
  /** Body of the one `server {}` block (without `listen`), or a function of the chosen port. */
  readonly server: string | ((port: number) => string);
  /** Extra lines at `http {}` level (upstreams, maps). */
  readonly http?: string;
  /** Serve HTTPS with this certificate and key (PEM files); `url` is then https://. */
  readonly tls?: { readonly cert: string; readonly key: string };
  /** Listen on this port (e.g. one already written into another server's config) instead of a fresh one. */
  readonly port?: number;
}

/** The temp directories nginxMainConfig points nginx at (inside its `dir`). */
export const NGINX_TEMP_DIRS = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'] as const;

/** The temp directories nginxMainConfig points nginx at, made inside `dir`. */
export async function mkdirNginxTemps(dir: string): Promise<void> {
  for (const sub of NGINX_TEMP_DIRS) await mkdir(join(dir, sub), { recursive: true });
}

/**
 * A whole nginx.conf around an `http {}` body, every file nginx writes kept
 * in `dir` (pid, error log, temp paths: see mkdirNginxTemps), so a test or a
 * bench runs nginx unprivileged and leaves nothing behind.
 */
export function nginxMainConfig(dir: string, httpBody: string, workerConnections = 512): string {
  // As root nginx would drop its workers to `nobody`, who cannot use our 0700 temp dir.
  const user = process.getuid?.() === 0 ? 'user root;\n' : '';
  return `${user}worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} warn;
events { worker_connections ${workerConnections}; }
http {
  access_log off;
${NGINX_TEMP_DIRS.map((sub) => `  ${sub}_temp_path ${join(dir, sub)};`).join('\n')}
${httpBody}
}
`;
}

export async function startNginx(options: NginxOptions): Promise<RunningProxy> {
  if (!(await isExecutable(NGINX_PATH))) throw new ProxyUnavailableError(`${NGINX_PATH} not found`);
  return launchOnFreePort('nginx', async (port, dir) => {
    await mkdirNginxTemps(dir);
    const server = typeof options.server === 'function' ? options.server(port) : options.server;
    const configText = nginxMainConfig(dir, `${indent(options.http ?? '')}
  server {
    listen 127.0.0.1:${port}${options.tls ? ' ssl' : ''};${options.tls ? `
    ssl_certificate ${options.tls.cert};
    ssl_certificate_key ${options.tls.key};` : ''}
${indent(indent(server))}
  }`);
    const file = join(dir, 'nginx.conf');
    await writeFile(file, configText);
    return { name: 'nginx', command: NGINX_PATH, args: ['-c', file, '-p', dir, '-e', join(dir, 'error.log'), '-g', 'daemon off;'], dir, port, configText };
  }, options.port).then((proxy) => (options.tls ? { ...proxy, url: proxy.url.replace(/^http:/, 'https:') } : proxy));
}

export interface NginxAuthRequestOptions {
  /** Authz HTTP door, e.g. `http://127.0.0.1:8080` (the server of the `kestra_authz` upstream). */
  readonly authz: string;
  /** The protected app, e.g. `http://127.0.0.1:9000` (the server of the `kestra` upstream). */
  readonly upstream: string;
  /** Identity headers passed from the auth answer to the upstream. */
  readonly identityHeaders?: readonly string[];
  /**
   * The recipe as the README had it before issue 13: the client's
   * X-Forwarded-Uri/-Method reach the door (nginx passes every client header
   * to the auth subrequest), and the client's Cookie reaches the upstream as
   * sent. Only to prove the door refuses such requests anyway.
   */
  readonly withoutBlanking?: boolean;
}

function nginxVar(header: string): string {
  return header.toLowerCase().replace(/-/g, '_');
}

/**
 * The recommended nginx recipe as a server body: `auth_request` to the
 * forward-auth endpoint, identity headers via `auth_request_set` (an empty
 * value makes proxy_set_header drop the client's header), 401 carrying a
 * Location turned into the login redirect, every Set-Cookie of the answer
 * (numbered headers) added to the client's response — a refreshed session
 * on an allow too. nginx passes every client header
 * to the auth subrequest and to our own endpoints, so both locations set or
 * blank (`""` = not sent) every header the door reads.
 */
export function nginxAuthRequestServer(o: NginxAuthRequestOptions): string {
  const headers = o.identityHeaders ?? KESTRA_IDENTITY_HEADERS;
  const sets = headers.map((h) => `auth_request_set $authz_${nginxVar(h)} $upstream_http_${nginxVar(h)};`).join('\n  ');
  const passes = headers.map((h) => `proxy_set_header ${h} $authz_${nginxVar(h)};`).join('\n  ');
  const slots = Array.from({ length: NGINX_SET_COOKIE_SLOTS }, (_, i) => i + 1);
  // nginx 1.22 reads only the first of several Set-Cookie lines: the door numbers them (refreshed-cookies.ts).
  const setCookieVars = slots.map((n) => `auth_request_set $authz_set_cookie_${n} $upstream_http_x_authz_set_cookie_${n};`).join('\n  ');
  const addSetCookies = slots.map((n) => `add_header Set-Cookie $authz_set_cookie_${n} always;`).join('\n  ');
  const blank = o.withoutBlanking ? '' : `
  proxy_set_header X-Forwarded-Uri "";
  proxy_set_header X-Forwarded-Method "";`;
  return `location / {
  auth_request /_authz;
  ${sets}
  auth_request_set $authz_location $upstream_http_location;
  ${setCookieVars}${o.withoutBlanking ? '' : `
  auth_request_set $authz_cookie $upstream_http_cookie;`}
  error_page 401 = @authz_401;
  ${passes}${o.withoutBlanking ? '' : `
  proxy_set_header Cookie $authz_cookie;`}
  ${addSetCookies}
  proxy_pass http://${NGINX_UPSTREAM};
  proxy_http_version 1.1;
  proxy_set_header Connection "";
}
location = /_authz {
  internal;
  proxy_pass http://${NGINX_AUTHZ_UPSTREAM}/forward-auth;
  proxy_http_version 1.1;
  proxy_set_header Connection "";
  proxy_pass_request_body off;
  proxy_set_header Content-Length "";
  proxy_set_header X-Original-URI $request_uri;
  proxy_set_header X-Original-Method $request_method;
  proxy_set_header X-Forwarded-Proto $scheme;
  proxy_set_header X-Forwarded-Host $host;
  proxy_set_header X-Forwarded-For $remote_addr;${blank}
}
location @authz_401 {
  ${addSetCookies}
  if ($authz_location) {
    return 302 $authz_location;
  }
  default_type application/json;
  return 401 '{"error":"unauthorized","message":"authentication required"}';
}
location ~ ^/(oauth/|login|logout) {
  proxy_pass http://${NGINX_AUTHZ_UPSTREAM};
  proxy_http_version 1.1;
  proxy_set_header Connection "";
  proxy_set_header X-Forwarded-Proto $scheme;
  proxy_set_header X-Forwarded-Host $host;${o.withoutBlanking ? '' : `
  proxy_set_header X-Forwarded-For $remote_addr;
  proxy_set_header X-Forwarded-Uri "";
  proxy_set_header X-Forwarded-Method "";
  proxy_set_header X-Original-URI "";
  proxy_set_header X-Original-Method "";`}
}`;
}

/** The `upstream {}` names the nginx recipe proxies to (docs/recipes/nginx.md). */
export const NGINX_AUTHZ_UPSTREAM = 'kestra_authz';
export const NGINX_UPSTREAM = 'kestra';

const hostPortOf = (url: string) => url.replace(/^http:\/\//, '').replace(/\/+$/, '');

/**
 * The recipe's `http {}`-level part: one `upstream {}` per backend, with a
 * pool of idle connections (docs/recipes/keep-alive.md). nginx keeps at most
 * 32 idle per worker and closes one after 60 s idle — before the door's 75 s
 * keep-alive, so nginx never sends on a connection the door is closing.
 * Without `keepalive` (and `proxy_http_version 1.1` + an empty `Connection`
 * in each location) nginx opens a new HTTP/1.0 connection per subrequest.
 */
export function nginxAuthRequestUpstreams(o: Pick<NginxAuthRequestOptions, 'authz' | 'upstream'>): string {
  const block = (name: string, url: string) => `upstream ${name} {
  server ${hostPortOf(url)};
  keepalive 32;
  keepalive_timeout 60s;
}`;
  return `${block(NGINX_AUTHZ_UPSTREAM, o.authz)}\n${block(NGINX_UPSTREAM, o.upstream)}`;
}

/** The whole nginx recipe for startNginx(): upstreams and server body. */
export function nginxAuthRequest(o: NginxAuthRequestOptions): NginxOptions {
  return { http: nginxAuthRequestUpstreams(o), server: nginxAuthRequestServer(o) };
}

function indent(text: string): string {
  return text.split('\n').map((line) => (line ? `\t${line}` : line)).join('\n');
}
