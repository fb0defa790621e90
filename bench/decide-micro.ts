/**
 * In-process cost of one Check without the transport:
 * CheckRequest bytes → AuthRequest → decide() → CheckResponse bytes, with the
 * gRPC door's own codec (check-request-wire, check-response-wire).
 * Prints µs per Check for each step so a change can be judged without the
 * noise of a gRPC load run. Run with `--cpu-prof` to profile the hot path:
 *
 *   npm run build && node --cpu-prof --cpu-prof-dir=bench/results dist/bench/decide-micro.js
 *
 * SHADOW=file|rule adds a shadow policy (docs/rules.md "Shadow rules"): `file` = the
 * bench config itself as `authz.shadow` (every request re-decided, all agree),
 * `rule` = a `shadow: true` rule denying the bench route (every request a
 * disagreement; the logger is silent, so no line is written). The shadow
 * decides after the answer, in the next setImmediate: the loop yields every
 * YIELD_EVERY Checks in every mode, and `deferred` is the time spent there
 * (the shadow batches, plus the bare yield that SHADOW=off measures too).
 *
 *   node dist/bench/decide-micro.js --credential session [--ended 100000]
 *
 * PRINCIPAL=spiffe://… sets the source peer's principal (an mTLS peer) on the
 * request; the token still decides.
 *
 * IDENTITY_TOKEN=on turns authz.identity-token on: every allow also carries
 * the signed identity token (signed once, then reused until its renewal).
 *
 * IN_FLIGHT=N (default 1) decides N Checks at a time and awaits them together,
 * as a loaded server gets them: with `--credential unique|forged` the first
 * verifications of each group then run in one batch (verification-batch.ts),
 * one event-loop turn per group. With 1, each such Check waits a turn alone,
 * and *decide* includes that wait.
 *
 * `--credential bearer` (default): one RS256 token, a token-cache hit.
 * `--credential unique`: 20,000 distinct RS256 tokens cycled (the bench's
 * *unique* scenario in process: every Check a cache miss and a verification);
 * `--credential forged`: the same with one signature character changed (every
 * Check a verification that fails, answered 401).
 * `--credential session`: the same request carrying a password-form session
 * cookie instead of the token, obtained as a browser gets it: a user created
 * with the CLI's own command (`auths users create`, groups = the bench group)
 * into the users file, then `POST /login` decided by the same engine; its
 * Set-Cookie is replayed on every Check (HS256 verify, ended-sessions lookup,
 * users-store read, credential-stamp compare).
 * `--ended N` (session only): first ends N other sessions through the
 * cookie store's ended-sessions list (the list `/logout` writes to), then
 * proves one real `POST /logout` is refused afterwards, so the timed Checks
 * look their `sid` up in a list of N + 1.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import { runUsersCommand } from '../src/cli/users-command.js';
import { loadConfigFile } from '../src/config/load-config.js';
import { createLogger } from '../src/observability/logger.js';
import { parse, stringify } from 'yaml';
import { shadowEvaluationsTotal } from '../src/observability/metrics.js';
import { buildServing, createEngineServices } from '../src/server/build-engine.js';
import type { AuthRequest } from '../src/core/auth-request.js';
import { authRequestFromCheckBytes } from '../src/server/check-request-wire.js';
import { encodeCheckResponse } from '../src/server/check-response-wire.js';
import { AUTHORIZATION_SERVICE, loadExtAuthzDefinition } from '../src/server/envoy-protos.js';
import { decideAtDoor, type Runtime } from '../src/server/runtime.js';
import { writeBenchConfig } from './bench-config.js';
import { startBenchIssuer } from './bench-issuer.js';
import { BENCH_GROUP } from './bench-issuer.js';
import { BENCH_HOST, envoyLikeCheckRequest } from './envoy-like-check.js';

const ITERATIONS = Number(process.env.ITERATIONS ?? 200_000);
const SHADOW = process.env.SHADOW ?? 'off';
const YIELD_EVERY = Number(process.env.YIELD_EVERY ?? 64);
const PRINCIPAL = process.env.PRINCIPAL ?? '';
const IDENTITY_TOKEN = process.env.IDENTITY_TOKEN === 'on';
const IN_FLIGHT = Number(process.env.IN_FLIGHT ?? 1);
if (!Number.isInteger(IN_FLIGHT) || IN_FLIGHT < 1) throw new Error(`IN_FLIGHT=${process.env.IN_FLIGHT}: a whole number ≥ 1`);

/** The bench config with the shadow policy SHADOW asks for. */
function withShadow(path: string, dir: string): string {
  if (SHADOW === 'off') return path;
  const tree = parse(readFileSync(path, 'utf8')) as { authz: Record<string, unknown> & { rules?: unknown[] } };
  if (SHADOW === 'file') {
    copyFileSync(path, join(dir, 'shadow.yaml'));
    tree.authz.shadow = 'shadow.yaml';
  } else if (SHADOW === 'rule') {
    tree.authz.rules = [{ id: 'bench-shadow', match: { path: '/api/v1/**' }, allow: 'deny', shadow: true }, ...(tree.authz.rules ?? [])];
  } else {
    throw new Error(`SHADOW=${SHADOW}: off, file or rule`);
  }
  writeFileSync(path, stringify(tree));
  return path;
}

const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

type Credential = 'bearer' | 'session' | 'unique' | 'forged';
const CREDENTIALS: readonly Credential[] = ['bearer', 'session', 'unique', 'forged'];
/** `unique` / `forged`: distinct tokens cycled, more than the token cache (1000) holds: every Check verifies a signature. */
const UNIQUE_TOKENS = 20_000;

function parseFlags(argv: readonly string[]): { credential: Credential; ended: number } {
  let credential: Credential = 'bearer';
  let ended = 0;
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split('=', 2) as [string, string | undefined];
    const value = () => inline ?? argv[++i] ?? '';
    if (flag === '--credential') {
      const v = value();
      if (!(CREDENTIALS as readonly string[]).includes(v)) throw new Error(`--credential ${CREDENTIALS.join('|')}, not ${JSON.stringify(v)}`);
      credential = v as Credential;
    } else if (flag === '--ended') {
      ended = Number(value());
      if (!Number.isInteger(ended) || ended < 0 || ended > 199_999) throw new Error('--ended N: an integer, 0 ≤ N < 200000 (the list keeps 200,000)');
    } else {
      throw new Error(`unknown flag ${flag} (decide-micro [--credential ${CREDENTIALS.join('|')}] [--ended N])`);
    }
  }
  if (ended > 0 && credential !== 'session') throw new Error('--ended needs --credential session');
  return { credential, ended };
}

const SESSION_USER = 'bench-user';
const SESSION_PASSWORD = 'bench-password-0123';

/** The request a browser's XHR sends with its session cookie: the bench request, `authorization` replaced by `cookie`. */
function withCookie(request: object, cookie: string): object {
  const r = request as { attributes: { request: { http: { headers: Record<string, string> } } } };
  const headers = { ...r.attributes.request.http.headers };
  delete headers.authorization;
  headers.cookie = cookie;
  return { ...r, attributes: { ...r.attributes, request: { ...r.attributes.request, http: { ...r.attributes.request.http, headers } } } };
}

/** A same-origin POST of the sign-in form or of /logout, as the gRPC door receives it. */
function formPost(path: string, body: string, cookie?: string): object {
  const headers: Record<string, string> = {
    ':authority': BENCH_HOST, ':method': 'POST', ':path': path, ':scheme': 'https',
    'content-type': 'application/x-www-form-urlencoded', origin: `https://${BENCH_HOST}`,
  };
  if (cookie !== undefined) headers.cookie = cookie;
  return {
    attributes: {
      source: { address: { socket_address: { address: '203.0.113.24', port_value: 50_000 } } },
      request: { http: { id: '1', method: 'POST', headers, path, host: BENCH_HOST, scheme: 'https', protocol: 'HTTP/1.1', body } },
    },
  };
}

/** `name=value` of every Set-Cookie that sets (not expires) a cookie, joined as a Cookie header. */
function cookieFrom(setCookies: readonly (readonly [string, string])[]): string {
  return setCookies
    .filter(([name, value]) => name.toLowerCase() === 'set-cookie' && !/max-age=0/i.test(value))
    .map(([, value]) => value.split(';', 1)[0]!)
    .join('; ');
}

/** The cookie store's list of ended sessions (absent before issue 13: the copy is typed loosely to compile against both builds). */
interface EndedList { end(sid: string, untilSeconds: number): Promise<void> }

async function main(): Promise<void> {
  const { credential, ended } = parseFlags(process.argv.slice(2));
  const dir = mkdtempSync(join(tmpdir(), 'kauthz-micro-'));
  const issuer = await startBenchIssuer(join(process.cwd(), 'bench/results'));
  const [token] = await issuer.tokens(1, () => {});
  const session = credential === 'session';
  const config = await loadConfigFile(withShadow(writeBenchConfig({ dir, jwksUri: issuer.jwksUri, tokenCacheSize: 1000, basicAuth: session, identityToken: IDENTITY_TOKEN }), dir));
  if (session) {
    // The CLI's own code path (`kestra-authz auths users create …`), into the users file the config names.
    const err: string[] = [];
    const code = await runUsersCommand(['create', SESSION_USER, SESSION_PASSWORD, '--groups', BENCH_GROUP], { config, stdout: () => {}, stderr: (t) => err.push(t) });
    if (code !== 0) throw new Error(`auths users create: exit ${code}: ${err.join(' ')}`);
  }
  const logger = createLogger('silent');
  const services = createEngineServices(config, logger);
  await services.warmUp();
  const serving = buildServing(config, services);
  const runtime: Runtime = { engine: serving.engine, shadow: serving.shadow, logger, ready: true };
  const method = (loadExtAuthzDefinition()[AUTHORIZATION_SERVICE] as grpc.ServiceDefinition).Check!;
  const decideBytes = async (request: object) => decideAtDoor(runtime, authRequestFromCheckBytes(method.requestSerialize(request))!, 'grpc');
  const login = async (): Promise<string> => {
    const body = new URLSearchParams({ username: SESSION_USER, password: SESSION_PASSWORD, redirect: '/ui/' }).toString();
    const d = await decideBytes(formPost('/login', body));
    const cookie = cookieFrom(d.responseHeaders);
    if (d.status !== 302 || !cookie) throw new Error(`POST /login: ${d.status} ${d.reason} ${d.message}`);
    return cookie;
  };

  let request = envoyLikeCheckRequest({ token: token!, sequence: 1 });
  let cookieBytes = 0;
  if (session) {
    const cookie = await login();
    cookieBytes = Buffer.byteLength(cookie);
    request = withCookie(request, cookie);
    if (ended > 0) {
      const list = (services.sessionsStore as { ended?: EndedList } | undefined)?.ended;
      if (!list) throw new Error('--ended: this build has no ended-sessions list (authz.sessions store: cookie)');
      const until = Math.floor(Date.now() / 1000) + 3600;
      for (let i = 0; i < ended; i++) await list.end(`bench-ended-${i.toString(36).padStart(8, '0')}-${'x'.repeat(6)}`, until);
      // One more through the service's own logout: its cookie must be refused afterwards, the bench's still allowed.
      const other = await login();
      const out = await decideBytes(formPost('/logout', '', other));
      if (out.status !== 302) throw new Error(`POST /logout: ${out.status} ${out.reason}`);
      const replay = await decideBytes(withCookie(envoyLikeCheckRequest({ token: token!, sequence: 2 }), other));
      if (replay.allow || replay.status !== 401) throw new Error(`a logged-out session cookie was not refused: ${replay.status} ${replay.reason}`);
    }
  }
  // PRINCIPAL=spiffe://…: the mTLS peer Envoy verified (docs/mesh-identity.md), as when
  // Istio's ingress gateway forwards a user's token: the token decides, the principal rides along.
  if (PRINCIPAL) (request as { attributes: { source: { principal?: string } } }).attributes.source.principal = PRINCIPAL;
  const frame = method.requestSerialize(request);
  // unique / forged: one frame per token, cycled (the same request shape, only the token differs).
  const manyTokens = credential === 'unique' || credential === 'forged' ? await issuer.tokens(UNIQUE_TOKENS, () => {}) : [];
  const forge = (t: string) => {
    const at = t.lastIndexOf('.') + 10;
    return t.slice(0, at) + (t[at] === 'A' ? 'B' : 'A') + t.slice(at + 1);
  };
  const frames = manyTokens.length > 0
    ? manyTokens.map((t, sequence) => method.requestSerialize(envoyLikeCheckRequest({ token: credential === 'forged' ? forge(t) : t, sequence })))
    : [frame];
  const expectAllow = credential !== 'forged';

  // warm-up: JWKS fetch, first verify, JIT
  for (let i = 0; i < 5_000; i++) {
    const d = await decideAtDoor(runtime, authRequestFromCheckBytes(frames[i % frames.length]!)!, 'grpc');
    if (i === 0 && d.allow !== expectAllow) throw new Error(`bench request ${d.allow ? 'allowed' : 'denied'}: ${d.reason}`);
    if (i === 0 && session && d.identity?.via !== 'session') throw new Error(`allowed, but not by the session: ${d.identity?.via}`);
    if (i === 0 && IDENTITY_TOKEN && !d.upstreamHeaders.some(([name]) => name === 'x-kestra-identity')) throw new Error('allowed, but without the identity token');
    if (i % YIELD_EVERY === YIELD_EVERY - 1) await yieldToLoop();
  }
  await yieldToLoop();

  const timings = { decode: 0n, decide: 0n, render: 0n, deferred: 0n };
  const started = process.hrtime.bigint();
  // IN_FLIGHT Checks at a time: decoded, decided together (as a socket read's worth reaches the server), encoded.
  for (let i = 0; i < ITERATIONS; i += IN_FLIGHT) {
    const group = Math.min(IN_FLIGHT, ITERATIONS - i);
    const t0 = process.hrtime.bigint();
    const reqs: AuthRequest[] = [];
    for (let j = 0; j < group; j++) reqs.push(authRequestFromCheckBytes(frames[(i + j) % frames.length]!)!);
    const t1 = process.hrtime.bigint();
    const decisions = group === 1 ? [await decideAtDoor(runtime, reqs[0]!, 'grpc')] : await Promise.all(reqs.map((req) => decideAtDoor(runtime, req, 'grpc')));
    const t2 = process.hrtime.bigint();
    for (const decision of decisions) encodeCheckResponse(decision);
    const t3 = process.hrtime.bigint();
    timings.decode += t1 - t0;
    timings.decide += t2 - t1;
    timings.render += t3 - t2;
    if (Math.floor((i + group) / YIELD_EVERY) > Math.floor(i / YIELD_EVERY)) {
      await yieldToLoop();
      timings.deferred += process.hrtime.bigint() - t3;
    }
  }
  const wall = process.hrtime.bigint() - started;
  const us = (ns: bigint) => (Number(ns) / ITERATIONS / 1000).toFixed(2);
  const total = timings.decode + timings.decide + timings.render;
  const outcomes = Object.fromEntries((await shadowEvaluationsTotal.get()).values.map((v) => [v.labels.outcome, v.value]));
  console.log(JSON.stringify({
    iterations: ITERATIONS,
    shadow: SHADOW,
    credential,
    ...(session ? { endedSessions: ended, cookieBytes } : {}),
    usPerCheck: {
      decode: us(timings.decode), decide: us(timings.decide), renderAndEncode: us(timings.render), total: us(total),
      deferred: us(timings.deferred), wall: us(wall),
    },
    ...(SHADOW === 'off' ? {} : { shadowOutcomes: outcomes }),
    node: process.version,
  }));
  await services.close();
  await issuer.stop();
  rmSync(dir, { recursive: true, force: true });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1); // the issuer's server and the services' timers would keep a failed run alive
});
