/**
 * What the Redis session tests share: the real Redis at 127.0.0.1:6379 (a
 * key prefix per test, its keys deleted afterwards), private `redis-server`
 * processes for outage tests, real `kestra-authz serve` child processes as
 * replicas, and a login walked through a replica's gRPC Check against a real
 * oidc-provider.
 *
 * Without Redis (or redis-server) the tests skip with a message — unless
 * CI=true, where a missing Redis is a failure.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { envoyCheckRequest, type EnvoyCheckRequestInit } from '../helpers/envoy-check-request.js';
import { createAuthzClient, headerOf, headersOf, type AuthzClient, type CheckResponseJs } from '../helpers/grpc-client.js';
import { startOidcIdp, type OidcIdp, type OidcIdpOptions } from '../helpers/oidc-idp.js';
export { freePort } from '../helpers/free-port.js';
import { freePort } from '../helpers/free-port.js';

const BIN = fileURLToPath(new URL('../../../bin/kestra-authz.js', import.meta.url));
export const SHARED_REDIS = 'redis://127.0.0.1:6379';
export const EXTERNAL = 'https://kestra.example.com';
export const CLIENT = { client_id: 'kestra', client_secret: 'kestra-secret-for-tests-only' };
export const BROWSER = { accept: 'text/html,*/*;q=0.8', 'sec-fetch-mode': 'navigate' };
export const API = { accept: 'application/json' };

/** PING over a raw socket: true when a Redis answers at host:port. */
export function redisAnswers(port = 6379, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host });
    const done = (ok: boolean) => { socket.destroy(); resolve(ok); };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (d) => done(d.toString().startsWith('+PONG')));
  });
}

function hasRedisServer(): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn('redis-server', ['--version'], { stdio: 'ignore' });
    child.once('error', () => resolve(false));
    child.once('exit', (code) => resolve(code === 0));
  });
}

/** `false` when the tests can run, else the skip message; under CI=true a missing Redis throws instead. */
export async function redisSkipReason(options: { needsRedisServer?: boolean } = {}): Promise<string | false> {
  let reason: string | false = false;
  if (!(await redisAnswers())) reason = 'Redis at 127.0.0.1:6379 is unreachable';
  else if (options.needsRedisServer && !(await hasRedisServer())) reason = 'redis-server is not installed';
  if (reason && process.env.CI === 'true') throw new Error(`${reason} (required when CI=true)`);
  return reason;
}

export const testPrefix = () => `kauthz-test-${randomBytes(6).toString('hex')}:`;

/** A plain client on the shared Redis, for inspecting and cleaning a test's keys. */
export function inspector(url = SHARED_REDIS): Redis {
  return new Redis(url, { maxRetriesPerRequest: 1, lazyConnect: false });
}

export async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    if (keys.length) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}

/** A private redis-server (no persistence), stopped by its pid. */
export interface PrivateRedis {
  readonly port: number;
  readonly url: string;
  kill(): Promise<void>;
}

export async function startPrivateRedis(port?: number): Promise<PrivateRedis> {
  const p = port ?? await freePort();
  const child = spawn('redis-server', ['--port', String(p), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  for (let i = 0; i < 100 && !(await redisAnswers(p)); i++) await sleep(50);
  assert.ok(await redisAnswers(p), `redis-server did not start on port ${p}`);
  return {
    port: p,
    url: `redis://127.0.0.1:${p}`,
    kill: () => stopChild(child, 'SIGKILL'),
  };
}

/** Stops a child by pid; one that ignores the signal for 10 s is killed, and that is reported. */
async function stopChild(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  process.kill(child.pid!, signal);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((r) => { timer = setTimeout(() => r('late'), 10_000); });
  const outcome = await Promise.race([exited, late]);
  clearTimeout(timer);
  if (outcome === 'late') {
    child.kill('SIGKILL');
    await exited;
    assert.fail(`pid ${child.pid} did not exit within 10 s of ${signal}`);
  }
}

export interface ReplicaSettings {
  readonly dir: string;
  readonly name: string;
  readonly idp: OidcIdp;
  readonly secret: string;
  /** `authz.sessions` as YAML flow mapping, e.g. `{ store: redis, url: …, prefix: … }`. */
  readonly sessions: string;
  /** `authz.users` as YAML flow mapping; default the file `<dir>/users.yaml`. */
  readonly users?: string;
  /** More `authz` keys, one `key: value` per line (YAML, no indent). */
  readonly authz?: string;
  /** `serve --workers N`; default 1: a replica is one process unless a test is about worker groups (test/server/worker-group.test.ts). */
  readonly workers?: number;
}

/** A `kestra-authz serve` child process. */
export interface Replica {
  readonly name: string;
  readonly grpcPort: number;
  readonly httpPort: number;
  readonly managementPort: number;
  /** The `serve` process (the primary of a worker group). */
  readonly pid: number;
  check(init: EnvoyCheckRequestInit): Promise<CheckResponseJs>;
  /** Exit code/signal once it exited, else undefined. */
  exited(): string | undefined;
  output(): string;
  stop(): Promise<void>;
}

/**
 * A port from freePort() is free when asked, not when the replica binds it: an
 * outgoing connection of this or another process (Redis, the IdP, a browser)
 * may take it as its source port in between. A replica that fails to start on
 * EADDRINUSE is started again on fresh ports, a few times.
 */
export async function startReplica(s: ReplicaSettings): Promise<Replica> {
  for (let attempt = 1; ; attempt++) {
    const started = await startReplicaOnce(s);
    if (typeof started !== 'string') return started;
    if (!started.includes('EADDRINUSE') || attempt === 3) assert.fail(`replica ${s.name} did not start:\n${started}`);
  }
}

/** The replica, or its output when it did not become healthy (then it is killed). */
async function startReplicaOnce(s: ReplicaSettings): Promise<Replica | string> {
  const [grpc, http, management] = [await freePort(), await freePort(), await freePort()];
  const configPath = join(s.dir, `${s.name}.yaml`);
  await writeFile(configPath, `
kestra:
  encryption: { secret-key: "${s.secret}" }
  security:
    oidc: { groups-claim-path: groups }
micronaut:
  security:
    oauth2:
      enabled: true
      clients:
        idp-a:
          client-id: ${CLIENT.client_id}
          client-secret: ${CLIENT.client_secret}
          scopes: [openid, profile, groups]
          openid: { issuer: "${s.idp.issuer}" }
authz:
  external-url: ${EXTERNAL}
  listen: { grpc: "127.0.0.1:${grpc}", http: "127.0.0.1:${http}", management: "127.0.0.1:${management}" }
  users: ${s.users ?? `{ file: ${join(s.dir, 'users.yaml')} }`}
  sessions: ${s.sessions}
  default: authenticated
  log: { level: warn }
${(s.authz ?? '').split('\n').filter(Boolean).map((line) => `  ${line}`).join('\n')}
`);
  const workers = ['--workers', String(s.workers ?? 1)];
  const child = spawn(process.execPath, [BIN, 'serve', '--config', configPath, ...workers], { env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
  const ready = async () => fetch(`http://127.0.0.1:${management}/healthz`).then((r) => r.ok, () => false);
  for (let i = 0; i < 200 && child.exitCode === null && !(await ready()); i++) await sleep(100);
  if (!(await ready())) {
    // Not left running (a worker group's workers exit with their primary).
    child.kill('SIGKILL');
    return out;
  }
  const client: AuthzClient = createAuthzClient(grpc);
  return {
    name: s.name,
    grpcPort: grpc,
    pid: child.pid!,
    httpPort: http,
    managementPort: management,
    check: (init) => client.check(envoyCheckRequest({ host: 'kestra.example.com', scheme: 'https', ...init })),
    exited: () => (child.exitCode !== null ? `code ${child.exitCode}` : child.signalCode ?? undefined),
    output: () => out,
    async stop() {
      client.close();
      await stopChild(child, 'SIGTERM');
    },
  };
}

export type Jar = Map<string, string>;

export function merge(jar: Jar, lines: readonly string[]): Jar {
  for (const line of lines) {
    const [pair = ''] = line.split(';');
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    const cleared = /;\s*max-age=0\b/i.test(line);
    jar.set(pair.slice(0, eq).trim(), cleared ? '' : pair.slice(eq + 1).trim());
  }
  return jar;
}

export const cookieHeader = (jar: ReadonlyMap<string, string>) =>
  [...jar].filter(([, v]) => v !== '').map(([n, v]) => `${n}=${v}`).join('; ');

/** A full browser login through `replica`'s Check: navigation → IdP → callback. Returns the cookie jar. */
export async function login(replica: Replica, idp: OidcIdp, user: string): Promise<Jar> {
  let start = await replica.check({ path: '/app/home', headers: BROWSER });
  assert.equal(start.denied_response?.status?.code, 302, JSON.stringify(start));
  const hop = new URL(headerOf(start.denied_response?.headers, 'location') ?? '', EXTERNAL);
  if (hop.origin === EXTERNAL) {
    start = await replica.check({ path: hop.pathname + hop.search, headers: BROWSER });
    assert.equal(start.denied_response?.status?.code, 302, JSON.stringify(start));
  }
  const jar = merge(new Map(), headersOf(start.denied_response?.headers, 'set-cookie'));
  const handoff = await idp.loginWith(headerOf(start.denied_response?.headers, 'location') ?? '', user);
  const callback = new URL(handoff.url);
  const done = await replica.check({ path: callback.pathname + callback.search, headers: { ...BROWSER, cookie: cookieHeader(jar) } });
  assert.equal(done.denied_response?.status?.code, 302, JSON.stringify(done));
  merge(jar, headersOf(done.denied_response?.headers, 'set-cookie'));
  assert.ok(jar.get('JWT'), 'logged in');
  return jar;
}

/** An API call with the jar's cookies: the user name when allowed, else the denial's status. */
export async function whoAmI(replica: Replica, jar: ReadonlyMap<string, string>, path = '/app/data'): Promise<{ user?: string; status?: number; body?: string }> {
  const res = await replica.check({ path, headers: { ...API, cookie: cookieHeader(jar) } });
  if ((res.status?.code ?? 0) === 0) return { user: headerOf(res.ok_response?.headers, 'x-kestra-user') };
  return { status: res.denied_response?.status?.code, body: res.denied_response?.body };
}

export interface ReplicaPair {
  readonly idp: OidcIdp;
  /** A plain client on the shared Redis, to look at (and clean) the keys. */
  readonly redis: Redis;
  readonly a: Replica;
  readonly b: Replica;
  /** Stops both replicas and the IdP, deletes every key under the prefix and the temp dir. */
  stop(): Promise<void>;
}

/** Two `serve` replicas sharing one Redis key prefix, behind one test IdP. */
export async function startReplicaPair(options: { prefix: string; secret: string; idp: OidcIdpOptions }): Promise<ReplicaPair> {
  const dir = await mkdtemp(join(tmpdir(), 'kauthz-redis-pair-'));
  const redis = inspector();
  let idp: OidcIdp | undefined;
  const replicas: Replica[] = [];
  const stop = async () => {
    await Promise.all(replicas.map((r) => r.stop()));
    await idp?.stop();
    await deleteKeys(redis, options.prefix);
    redis.disconnect();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    idp = await startOidcIdp(options.idp);
    const sessions = `{ store: redis, url: "${SHARED_REDIS}", prefix: "${options.prefix}" }`;
    for (const name of ['a', 'b']) replicas.push(await startReplica({ dir, name, idp, secret: options.secret, sessions }));
  } catch (err) {
    await stop();
    throw err;
  }
  return { idp, redis, a: replicas[0]!, b: replicas[1]!, stop };
}
