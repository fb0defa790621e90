/**
 * The recipes against a peer, side by side (issue 19): the same cached RS256
 * Bearer token and the same tiny upstream behind
 *
 *   - nginx `auth_request` + the HTTP door, the recipe as shipped
 *     (docs/recipes/nginx.md: pooled keep-alive connections), its config
 *     made by the very functions the proxy tests use (test/helpers/proxies.ts);
 *   - the same nginx recipe as it was before keep-alive (every check a new
 *     HTTP/1.0 connection): what a copy of the old recipe costs;
 *   - Caddy `forward_auth` + the HTTP door, the recipe as shipped
 *     (docs/recipes/caddy.md);
 *   - Apache 2.4 (mpm_event) + mod_auth_openidc validating the token itself
 *     (`AuthType oauth20`, keys from a JWKS URI, `Require claim groups:…`) —
 *     the peer.
 *
 * Every server (proxies, door, Apache, upstream) is pinned to core 0, wrk to
 * core 1; 127.0.0.1 only. Rounds are interleaved (each round runs every setup
 * once, in a rotated order) so a neighbour's load on the machine spreads over
 * all setups. Printed: req/s, p50/p99 (wrk's), the ratio to Apache, and how
 * many connections the HTTP door accepted during each run.
 *
 *   npm run bench:recipes [-- --rounds 3 --seconds 10 --connections 32 --warmup 2 --setups nginx,nginx-no-keepalive,caddy,apache]
 *
 * Needs Debian's nginx, caddy, apache2, libapache2-mod-auth-openidc, wrk and
 * util-linux's taskset. Every process is stopped by pid at the end.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CADDY_PATH, CADDY_RECIPE_STRIP, caddyForwardAuthSite, NGINX_AUTHZ_UPSTREAM, NGINX_PATH, NGINX_UPSTREAM, nginxAuthRequest, nginxAuthRequestServer, nginxMainConfig, NGINX_TEMP_DIRS } from '../test/helpers/proxies.js';
import { freePort } from '../test/helpers/free-port.js';
import { writeBenchConfig } from './bench-config.js';
import { BENCH_GROUP, startBenchIssuer } from './bench-issuer.js';
import { BenchError, runMain } from './bench-error.js';
import { ChildProcesses, canPin, type Started } from './child-processes.js';
import { flag, parseFlags } from './cli-flags.js';
import { BENCH_PATH } from './envoy-like-check.js';
import { cpuSecondsOfTree } from './proc-cpu.js';
import { shippedNodeFlags } from './shipped-node-flags.js';

const PROGRAMS = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(PROGRAMS, '../..');
const RESULTS_DIR = join(REPO, 'bench/results');
const APACHE = '/usr/sbin/apache2';
const APACHE_MODULES = '/usr/lib/apache2/modules';
const WRK = '/usr/bin/wrk';
const SERVER_CORE = 0;
const LOAD_CORE = 1;

type SetupId = 'nginx' | 'nginx-no-keepalive' | 'caddy' | 'apache';

interface Setup {
  readonly id: SetupId;
  readonly label: string;
  readonly port: number;
  /** Whether the requests pass the HTTP door (its connection count is read around each run). */
  readonly viaDoor: boolean;
  /** The proxy's (or Apache's) main pid: its CPU is read with its workers'. */
  readonly pid: number;
}

/** CPU used per request during a run, by part, in microseconds; `otherOnCore` = core 0's busy time nobody of ours used (a neighbour), in percent of the run. */
interface CpuSplit {
  readonly proxyUs: number;
  readonly doorUs: number;
  readonly upstreamUs: number;
  readonly otherOnCorePercent: number;
}

/** Busy seconds of one core so far (/proc/stat), or null off Linux. */
function coreBusySeconds(core: number): number | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n').find((l) => l.startsWith(`cpu${core} `));
    if (!line) return null;
    const ticks = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
    return (ticks.reduce((a, b) => a + b, 0) - idle) / 100;
  } catch {
    return null;
  }
}

interface WrkResult {
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly requests: number;
  readonly non2xx: number;
  readonly socketErrors: string;
}

interface RunRow extends WrkResult {
  readonly setup: SetupId;
  readonly round: number;
  readonly cpu?: CpuSplit;
  /** Connections the HTTP door accepted during the run (kestra_authz_http_connections_total), when it has the metric. */
  readonly doorConnections?: number;
}

// ------------------------------------------------------------------ configs

function nginxConfig(dir: string, port: number, http: string, server: string): string {
  for (const sub of NGINX_TEMP_DIRS) mkdirSync(join(dir, sub), { recursive: true });
  return nginxMainConfig(dir, `${http}
  server {
    listen 127.0.0.1:${port};
${server}
  }`, 4096);
}

/**
 * The nginx recipe as it was before keep-alive: proxy_pass straight to the
 * door and the upstream, nginx's default HTTP/1.0 with `Connection: close`.
 * Made from the shipped recipe by taking the keep-alive parts out, so the two
 * differ in nothing else.
 */
function nginxWithoutKeepAlive(authz: string, upstream: string): string {
  const shipped = nginxAuthRequestServer({ authz, upstream });
  const old = shipped
    .split('\n')
    .filter((line) => !/^\s*(proxy_http_version 1\.1;|proxy_set_header Connection "";)\s*$/.test(line))
    .join('\n')
    .replaceAll(`http://${NGINX_AUTHZ_UPSTREAM}`, authz)
    .replaceAll(`http://${NGINX_UPSTREAM};`, `${upstream};`);
  if (old.includes(NGINX_AUTHZ_UPSTREAM) || /proxy_pass http:\/\/kestra;/.test(old) || old.includes('Connection ""')) {
    throw new BenchError('ERR_BENCH_USAGE', 'recipe-peers: the shipped nginx recipe changed shape; update nginxWithoutKeepAlive()');
  }
  return old;
}

function caddyConfig(dir: string, port: number, site: string): string {
  const body = site.split('\n').map((line) => (line ? `\t${line}` : line)).join('\n');
  return `{\n\tadmin off\n\tauto_https off\n\tstorage file_system ${join(dir, 'data')}\n}\n\nhttp://:${port} {\n\tbind 127.0.0.1\n${body}\n}\n`;
}

/**
 * Apache as a mod_auth_openidc user would run it as an OAuth 2.0 resource
 * server: mpm_event in one process (so one core is not shared between
 * processes' schedulers), 64 threads for 32 connections, keep-alive on to the
 * client, mod_proxy's default connection reuse to the upstream.
 */
function apacheConfig(dir: string, port: number, jwksHttpsUri: string, caFile: string, upstreamPort: number): string {
  const mod = (name: string, file: string) => `LoadModule ${name} ${join(APACHE_MODULES, file)}`;
  const user = process.getuid?.() === 0 ? 'User www-data\nGroup www-data\n' : '';
  return `ServerRoot ${dir}
Listen 127.0.0.1:${port}
ServerName 127.0.0.1
PidFile ${join(dir, 'httpd.pid')}
DefaultRuntimeDir ${dir}
ErrorLog ${join(dir, 'error.log')}
LogLevel warn
${mod('mpm_event_module', 'mod_mpm_event.so')}
${mod('authn_core_module', 'mod_authn_core.so')}
${mod('authz_core_module', 'mod_authz_core.so')}
${mod('authz_user_module', 'mod_authz_user.so')}
${mod('proxy_module', 'mod_proxy.so')}
${mod('proxy_http_module', 'mod_proxy_http.so')}
${mod('auth_openidc_module', 'mod_auth_openidc.so')}
${user}StartServers 1
ServerLimit 1
ThreadsPerChild 64
ThreadLimit 64
MaxRequestWorkers 64
MinSpareThreads 1
MaxSpareThreads 64
KeepAlive On
MaxKeepAliveRequests 0
KeepAliveTimeout 75
OIDCCryptoPassphrase bench-only-passphrase-0123456789abcdef
OIDCCABundlePath ${caFile}
OIDCOAuthVerifyJwksUri ${jwksHttpsUri}
OIDCOAuthRemoteUserClaim sub
<Location />
  AuthType oauth20
  Require claim groups:${BENCH_GROUP}
  ProxyPass http://127.0.0.1:${upstreamPort}/
</Location>
`;
}

// ------------------------------------------------------------------ wrk

/** wrk's latency ("812.00us", "1.23ms", "2.00s") in milliseconds. */
function latencyMs(value: string, unit: string): number {
  const n = Number(value);
  return unit === 'us' ? n / 1000 : unit === 's' ? n * 1000 : unit === 'm' ? n * 60_000 : n;
}

export function parseWrkOutput(text: string): WrkResult {
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(text);
  const p50 = /^\s*50%\s+([\d.]+)(us|ms|s|m)\s*$/m.exec(text);
  const p99 = /^\s*99%\s+([\d.]+)(us|ms|s|m)\s*$/m.exec(text);
  const requests = /(\d+) requests in /.exec(text);
  if (!rps || !p50 || !p99 || !requests) throw new BenchError('ERR_BENCH_CHILD', `wrk output not understood:\n${text}`);
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(text);
  const socket = /Socket errors:\s+(.*)$/m.exec(text);
  return {
    requestsPerSecond: Number(rps[1]),
    p50Ms: latencyMs(p50[1]!, p50[2]!),
    p99Ms: latencyMs(p99[1]!, p99[2]!),
    requests: Number(requests[1]),
    non2xx: non2xx ? Number(non2xx[1]) : 0,
    socketErrors: socket ? socket[1]!.trim() : 'none',
  };
}

async function runWrk(children: ChildProcesses, url: string, token: string, connections: number, seconds: number): Promise<WrkResult> {
  const wrk = children.start('wrk', LOAD_CORE, WRK, ['-t1', `-c${connections}`, `-d${seconds}s`, '--timeout', '5s', '--latency', '-H', `Authorization: Bearer ${token}`, url]);
  const code = await wrk.exited;
  if (code !== 0) throw new BenchError('ERR_BENCH_CHILD', `wrk exited with ${code}: ${wrk.stderr()}`);
  return parseWrkOutput(wrk.stdout());
}

// ------------------------------------------------------------------ helpers

async function waitListening(started: Started, port: number, timeoutMs: number, log: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void started.exited.then(() => { exited = true; });
  for (;;) {
    try {
      await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(1000) });
      return;
    } catch {
      // not yet
    }
    if (exited || Date.now() > deadline) {
      throw new BenchError('ERR_BENCH_CHILD', `${started.name} ${exited ? 'exited' : 'did not listen'} on 127.0.0.1:${port}: ${started.stderr().slice(-2000)}\n${log()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

function readIfExists(path: string): string {
  return existsSync(path) ? readFileSync(path, 'utf8').slice(-4000) : '';
}

/** The door's accepted-connection counter, or undefined when the service has no such metric. */
async function doorConnections(managementPort: number): Promise<number | undefined> {
  const text = await (await fetch(`http://127.0.0.1:${managementPort}/metrics`)).text();
  const line = /^kestra_authz_http_connections_total(?:\{[^}]*\})?\s+([\d.e+]+)\s*$/m.exec(text);
  return line ? Number(line[1]) : undefined;
}

async function preflight(setup: Setup, token: string): Promise<void> {
  const url = `http://127.0.0.1:${setup.port}${BENCH_PATH}`;
  const allowed = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  const body = await allowed.text();
  if (allowed.status !== 200 || body !== 'ok\n') {
    throw new BenchError('ERR_BENCH_PREFLIGHT', `${setup.label}: the token should reach the upstream, got ${allowed.status} ${body.slice(0, 200)}`);
  }
  const anonymous = await fetch(url, { redirect: 'manual' });
  await anonymous.text();
  if (anonymous.status === 200) throw new BenchError('ERR_BENCH_PREFLIGHT', `${setup.label}: a request without a token was let through`);
  const forged = await fetch(url, { headers: { authorization: `Bearer ${token.slice(0, -4)}AAAA` }, redirect: 'manual' });
  await forged.text();
  if (forged.status === 200) throw new BenchError('ERR_BENCH_PREFLIGHT', `${setup.label}: a token with a broken signature was let through`);
}

const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

// ------------------------------------------------------------------ main

async function main(): Promise<void> {
  const flags = parseFlags('recipe-peers', process.argv.slice(2), {
    rounds: { kind: 'int', min: 1, max: 10 },
    seconds: { kind: 'int', min: 1, max: 60 },
    connections: { kind: 'int', min: 1, max: 256 },
    warmup: { kind: 'int', min: 0, max: 30 },
    setups: { kind: 'string' },
  });
  const rounds = flag(flags, 'rounds', 3);
  const seconds = flag(flags, 'seconds', 10);
  const connections = flag(flags, 'connections', 32);
  const warmup = flag(flags, 'warmup', 2);
  const ALL: readonly SetupId[] = ['nginx', 'nginx-no-keepalive', 'caddy', 'apache'];
  const chosen = flag(flags, 'setups', ALL.join(',')).split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = chosen.filter((s) => !(ALL as readonly string[]).includes(s));
  if (unknown.length > 0 || !chosen.includes('apache')) {
    throw new BenchError('ERR_BENCH_USAGE', `recipe-peers: --setups is a comma list of ${ALL.join(', ')} and must include apache (the ratios are to it)`);
  }
  const wanted = (id: SetupId) => chosen.includes(id);

  const missing = [
    [NGINX_PATH, 'nginx'], [CADDY_PATH, 'caddy'], [APACHE, 'apache2'],
    [join(APACHE_MODULES, 'mod_auth_openidc.so'), 'libapache2-mod-auth-openidc'], [WRK, 'wrk'],
  ].filter(([path]) => !existsSync(path!)).map(([, pkg]) => pkg);
  if (missing.length > 0) throw new BenchError('ERR_BENCH_USAGE', `recipe-peers needs Debian's ${missing.join(', ')} (apt-get install ${missing.join(' ')})`);
  if (!canPin()) throw new BenchError('ERR_BENCH_USAGE', 'recipe-peers needs taskset and two cores: servers on core 0, wrk on core 1');

  const log = (line: string) => process.stdout.write(`${line}\n`);
  const dir = mkdtempSync(join(tmpdir(), 'kauthz-recipe-peers-'));
  // Apache's children run as www-data and must reach their own directory (nothing secret lives here).
  chmodSync(dir, 0o711);
  const children = new ChildProcesses();
  const issuer = await startBenchIssuer(RESULTS_DIR);
  let jwksHttps: HttpsServer | undefined;
  const started: Started[] = [];
  try {
    const token = (await issuer.tokens(1, log))[0]!;

    // mod_auth_openidc fetches keys over https only: the same JWKS, served with the test certificate.
    const caFile = join(REPO, 'test/fixtures/tls/cert.pem');
    const jwks = await (await fetch(issuer.jwksUri)).text();
    jwksHttps = createHttpsServer({ key: readFileSync(join(REPO, 'test/fixtures/tls/key.pem')), cert: readFileSync(caFile) }, (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(jwks);
    });
    await new Promise<void>((ok) => jwksHttps!.listen(0, '127.0.0.1', ok));
    const jwksHttpsUri = `https://127.0.0.1:${(jwksHttps.address() as { port: number }).port}/jwks`;

    // The upstream every setup proxies to: nginx answering "ok".
    const upDir = join(dir, 'upstream');
    mkdirSync(upDir);
    const upPort = await freePort();
    const upConf = join(upDir, 'nginx.conf');
    writeFileSync(upConf, nginxConfig(upDir, upPort, '', '    keepalive_requests 1000000;\n    location / { default_type text/plain; return 200 "ok\\n"; }'));
    const upstream = children.start('upstream nginx', SERVER_CORE, NGINX_PATH, ['-c', upConf, '-p', upDir, '-e', join(upDir, 'error.log'), '-g', 'daemon off;']);
    started.push(upstream);
    await waitListening(upstream, upPort, 10_000, () => readIfExists(join(upDir, 'error.log')));

    // The door: the real service, with the shipped node flags.
    const authzDir = join(dir, 'authz');
    mkdirSync(authzDir);
    writeFileSync(join(authzDir, 'users.yaml'), 'users: []\n');
    const configFile = writeBenchConfig({ dir: authzDir, jwksUri: issuer.jwksUri, tokenCacheSize: 1000 });
    const authz = children.start('kestra-authz', SERVER_CORE, process.execPath, [...shippedNodeFlags(), join(PROGRAMS, 'real-server.js'), '--config', configFile]);
    started.push(authz);
    const ready = await children.jsonLine(authz, (v): v is { ready: true; httpPort: number; managementPort: number } => typeof (v as { httpPort?: unknown }).httpPort === 'number', 20_000);
    const door = `http://127.0.0.1:${ready.httpPort}`;
    const upstreamUrl = `http://127.0.0.1:${upPort}`;

    const setups: Setup[] = [];
    const startNginxSetup = async (id: SetupId, label: string, http: string, server: string) => {
      const d = join(dir, id);
      mkdirSync(d);
      const port = await freePort();
      const conf = join(d, 'nginx.conf');
      const indented = (text: string, pad: string) => text.split('\n').map((l) => (l ? pad + l : l)).join('\n');
      writeFileSync(conf, nginxConfig(d, port, indented(http, '  '), indented(server, '    ')));
      const proc = children.start(label, SERVER_CORE, NGINX_PATH, ['-c', conf, '-p', d, '-e', join(d, 'error.log'), '-g', 'daemon off;']);
      started.push(proc);
      await waitListening(proc, port, 10_000, () => readIfExists(join(d, 'error.log')));
      setups.push({ id, label, port, viaDoor: true, pid: proc.pid });
    };
    const shipped = nginxAuthRequest({ authz: door, upstream: upstreamUrl });
    if (wanted('nginx')) await startNginxSetup('nginx', 'nginx + door (recipe as shipped)', shipped.http ?? '', typeof shipped.server === 'string' ? shipped.server : '');
    if (wanted('nginx-no-keepalive')) await startNginxSetup('nginx-no-keepalive', 'nginx + door (old recipe, no keep-alive)', '', nginxWithoutKeepAlive(door, upstreamUrl));

    if (wanted('caddy')) {
      const d = join(dir, 'caddy');
      mkdirSync(d);
      const port = await freePort();
      const file = join(d, 'Caddyfile');
      writeFileSync(file, caddyConfig(d, port, caddyForwardAuthSite({ authz: `127.0.0.1:${ready.httpPort}`, upstream: upstreamUrl, stripHeaders: CADDY_RECIPE_STRIP })));
      // Keep Caddy's config/data out of the real home directory (the children inherit this process's environment).
      process.env.XDG_CONFIG_HOME = join(d, 'config');
      process.env.XDG_DATA_HOME = join(d, 'data');
      const proc = children.start('caddy', SERVER_CORE, CADDY_PATH, ['run', '--config', file, '--adapter', 'caddyfile']);
      started.push(proc);
      await waitListening(proc, port, 15_000, () => '');
      setups.push({ id: 'caddy', label: 'Caddy + door (recipe as shipped)', port, viaDoor: true, pid: proc.pid });
    }
    {
      const d = join(dir, 'apache');
      mkdirSync(d, { mode: 0o755 });
      const port = await freePort();
      const conf = join(d, 'httpd.conf');
      writeFileSync(conf, apacheConfig(d, port, jwksHttpsUri, caFile, upPort));
      const proc = children.start('apache', SERVER_CORE, APACHE, ['-f', conf, '-DFOREGROUND']);
      started.push(proc);
      await waitListening(proc, port, 15_000, () => readIfExists(join(d, 'error.log')));
      setups.push({ id: 'apache', label: 'Apache + mod_auth_openidc (peer)', port, viaDoor: false, pid: proc.pid });
    }

    for (const setup of setups) await preflight(setup, token);
    log(`all ${setups.length} setups: the token reaches the upstream; no token and a forged one do not`);
    if (warmup > 0) {
      for (const setup of setups) await runWrk(children, `http://127.0.0.1:${setup.port}${BENCH_PATH}`, token, connections, warmup);
      log(`warmed up (${warmup} s each)`);
    }

    const machine = {
      date: new Date().toISOString(),
      cpu: cpus()[0]?.model ?? 'unknown',
      cores: cpus().length,
      loadBefore: loadavg().map((n) => n.toFixed(2)).join(' '),
      node: process.version,
    };
    log(`machine: ${machine.cpu}, ${machine.cores} cores, load ${machine.loadBefore}; servers on core ${SERVER_CORE}, wrk on core ${LOAD_CORE}`);
    log(`${rounds} round(s) × ${setups.length} setups × ${seconds} s, wrk -t1 -c${connections}, GET ${BENCH_PATH} with one cached RS256 Bearer token`);

    const rows: RunRow[] = [];
    for (let round = 1; round <= rounds; round++) {
      // Rotate the order each round: no setup always runs first or last.
      const order = setups.map((_, i) => setups[(i + round - 1) % setups.length]!);
      for (const setup of order) {
        const before = setup.viaDoor ? await doorConnections(ready.managementPort) : undefined;
        const cpuBefore = [cpuSecondsOfTree(setup.pid), cpuSecondsOfTree(authz.pid), cpuSecondsOfTree(upstream.pid), coreBusySeconds(SERVER_CORE)];
        const startedAt = process.hrtime.bigint();
        const result = await runWrk(children, `http://127.0.0.1:${setup.port}${BENCH_PATH}`, token, connections, seconds);
        const wallSeconds = Number(process.hrtime.bigint() - startedAt) / 1e9;
        const cpuAfter = [cpuSecondsOfTree(setup.pid), cpuSecondsOfTree(authz.pid), cpuSecondsOfTree(upstream.pid), coreBusySeconds(SERVER_CORE)];
        const after = setup.viaDoor ? await doorConnections(ready.managementPort) : undefined;
        const used = cpuBefore.map((b, i) => (b === null || cpuAfter[i] === null ? null : cpuAfter[i]! - b));
        const perRequestUs = (cpuSeconds: number | null) => (cpuSeconds === null ? Number.NaN : Number(((cpuSeconds / result.requests) * 1e6).toFixed(1)));
        const cpu: CpuSplit | undefined = used.every((u) => u !== null)
          ? {
              proxyUs: perRequestUs(used[0]!),
              doorUs: setup.viaDoor ? perRequestUs(used[1]!) : 0,
              upstreamUs: perRequestUs(used[2]!),
              otherOnCorePercent: Number((Math.max(0, used[3]! - used[0]! - used[1]! - used[2]!) / wallSeconds * 100).toFixed(0)),
            }
          : undefined;
        const row: RunRow = { ...result, setup: setup.id, round, ...(cpu ? { cpu } : {}), ...(before !== undefined && after !== undefined ? { doorConnections: after - before } : {}) };
        rows.push(row);
        if (row.non2xx > 0) throw new BenchError('ERR_BENCH_PREFLIGHT', `${setup.label}: ${row.non2xx} answers were not 2xx in round ${round}`);
        log(`round ${round}  ${setup.label.padEnd(42)} ${row.requestsPerSecond.toFixed(0).padStart(7)} req/s  p50 ${row.p50Ms.toFixed(2)} ms  p99 ${row.p99Ms.toFixed(2)} ms`
          + `${row.doorConnections === undefined ? '' : `  door connections +${row.doorConnections}`}  socket errors: ${row.socketErrors}`
          + `${row.cpu ? `\n         CPU per request: proxy ${row.cpu.proxyUs} µs, door ${row.cpu.doorUs} µs, upstream ${row.cpu.upstreamUs} µs; core ${SERVER_CORE} used by others ${row.cpu.otherOnCorePercent} %` : ''}`);
      }
    }

    const apacheRps = median(rows.filter((r) => r.setup === 'apache').map((r) => r.requestsPerSecond));
    // Requests one core could serve at the CPU each request cost (proxy + door + upstream), per run, then the median:
    // unlike req/s it does not depend on how much of core 0 a neighbour took during the run (see bench/README.md).
    const perCore = (r: RunRow) => (r.cpu ? 1e6 / (r.cpu.proxyUs + r.cpu.doorUs + r.cpu.upstreamUs) : Number.NaN);
    const apachePerCore = median(rows.filter((r) => r.setup === 'apache').map(perCore));
    const apacheOfRound = new Map(rows.filter((r) => r.setup === 'apache').map((r) => [r.round, r]));
    const summary = setups.map((setup) => {
      const mine = rows.filter((r) => r.setup === setup.id);
      // Each run against the Apache run of the same round (minutes apart at most): slow drifts of the machine's load cancel out.
      const roundRatios = mine.map((r) => r.requestsPerSecond / apacheOfRound.get(r.round)!.requestsPerSecond);
      const rps = median(mine.map((r) => r.requestsPerSecond));
      return {
        setup: setup.id,
        label: setup.label,
        requestsPerSecond: Math.round(rps),
        p50Ms: Number(median(mine.map((r) => r.p50Ms)).toFixed(2)),
        p99Ms: Number(median(mine.map((r) => r.p99Ms)).toFixed(2)),
        vsApache: Number((rps / apacheRps).toFixed(2)),
        vsApacheByRound: roundRatios.map((x) => Number(x.toFixed(2))),
        doorConnectionsPerRun: setup.viaDoor ? median(mine.map((r) => r.doorConnections ?? Number.NaN)) : undefined,
        cpuUsPerRequest: {
          proxy: median(mine.map((r) => r.cpu?.proxyUs ?? Number.NaN)),
          door: median(mine.map((r) => r.cpu?.doorUs ?? Number.NaN)),
          upstream: median(mine.map((r) => r.cpu?.upstreamUs ?? Number.NaN)),
        },
        otherOnCorePercent: median(mine.map((r) => r.cpu?.otherOnCorePercent ?? Number.NaN)),
        requestsPerCoreSecond: Math.round(median(mine.map(perCore))),
        perCoreVsApache: Number((median(mine.map(perCore)) / apachePerCore).toFixed(2)),
      };
    });
    log('');
    log(`median of ${rounds} round(s):`);
    log(`| setup | req/s | p50 ms | p99 ms | × Apache | CPU µs/request: proxy + door + upstream | req per core-second | × Apache | door connections per run | core 0 used by others |`);
    log(`|---|---:|---:|---:|---:|---|---:|---:|---:|---:|`);
    for (const s of summary) {
      const conns = s.doorConnectionsPerRun === undefined ? '—' : Number.isNaN(s.doorConnectionsPerRun) ? 'n/a' : String(s.doorConnectionsPerRun);
      const c = s.cpuUsPerRequest;
      log(`| ${s.label} | ${s.requestsPerSecond} | ${s.p50Ms} | ${s.p99Ms} | ${s.vsApache.toFixed(2)} | ${c.proxy} + ${c.door} + ${c.upstream} = ${(c.proxy + c.door + c.upstream).toFixed(0)} `
        + `| ${s.requestsPerCoreSecond} | ${s.perCoreVsApache.toFixed(2)} | ${conns} | ${s.otherOnCorePercent} % |`);
    }
    const loadAfter = loadavg().map((n) => n.toFixed(2)).join(' ');
    for (const s of summary.filter((x) => x.setup !== 'apache')) {
      log(`${s.label}: × Apache round by round ${s.vsApacheByRound.join(', ')} (median ${median(s.vsApacheByRound).toFixed(2)})`);
    }
    log(`load average after: ${loadAfter}`);
    mkdirSync(RESULTS_DIR, { recursive: true });
    const file = join(RESULTS_DIR, `recipe-peers-${machine.date.replace(/[:.]/g, '-')}.json`);
    writeFileSync(file, JSON.stringify({ machine: { ...machine, loadAfter }, settings: { rounds, seconds, connections, warmup }, rows, summary }, null, 2));
    log(`results: ${file}`);
  } finally {
    for (const proc of started.reverse()) await children.stop(proc, 5000);
    await children.stopAll();
    await issuer.stop();
    if (jwksHttps) await new Promise<void>((ok) => jwksHttps!.close(() => ok()));
    rmSync(dir, { recursive: true, force: true });
  }
}

runMain(main);
