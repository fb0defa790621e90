/**
 * `serve --workers 2` as an operator runs it, and as an attacker meets it:
 * a real process group, the real oidc-provider, the real CLI. Checks go over
 * a fresh gRPC connection each (`roaming`): node:cluster hands connections
 * to the workers in turn, so consecutive checks land on different workers —
 * a login starts on one and finishes on the other, a copied cookie is tried
 * on both, a password is guessed on both.
 * Run with NODE_EXTRA_CA_CERTS=test/fixtures/tls/cert.pem (the IdP is HTTPS).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { createAuthzClient } from '../helpers/grpc-client.js';
import { startOidcIdp, type OidcIdp } from '../helpers/oidc-idp.js';
import { pollUntil } from '../helpers/poll.js';
import { scrapeMetrics, seriesSum } from '../helpers/scraped-metrics.js';
import { becomesReady, exitCodeAfterSigterm } from '../helpers/serve-process.js';
import { freePort } from '../helpers/free-port.js';
import { envoyCheckRequest } from '../helpers/envoy-check-request.js';
import { API, CLIENT, EXTERNAL, login, startReplica, whoAmI, type Replica } from '../sessions-redis/redis-fixture.js';
import { mintLogoutToken, postLogoutToken } from '../sessions-redis/logout-token-minter.js';
import { cliOk, errorOf, formLogin, formLogout, replicaConfig } from '../attacks/session-end-fixture.js';

const SECRET = 'worker-group-secret-0123456789abcdef-xyz';
/** Fresh connections per round: more than the workers, so every worker answers some. */
const CONNECTIONS = 4;

/** `replica`, but every check on a connection of its own (so on the next worker in turn). */
function roaming(replica: Replica): Replica {
  return {
    ...replica,
    async check(init) {
      const client = createAuthzClient(replica.grpcPort);
      try {
        return await client.check(envoyCheckRequest({ host: 'kestra.example.com', scheme: 'https', ...init }));
      } finally {
        client.close();
      }
    },
  };
}

/** The answers to CONNECTIONS checks with `jar`, each on a fresh connection. */
async function onEveryWorker(group: Replica, jar: ReadonlyMap<string, string>): Promise<Array<{ user?: string; status?: number; body?: string }>> {
  const answers = [];
  for (let i = 0; i < CONNECTIONS; i++) answers.push(await whoAmI(roaming(group), jar));
  return answers;
}

/** The worker pids of the group whose primary is `pid` (its child processes). */
async function workerPids(pid: number): Promise<number[]> {
  const children = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8');
  return children.trim().split(/\s+/).filter(Boolean).map(Number);
}

const metric = async (group: Replica, name: string, labels = /./) => seriesSum(await scrapeMetrics(group.managementPort), name, labels);

describe('serve --workers 2: one service on the outside', () => {
  let dir: string;
  let idp: OidcIdp;
  let group: Replica;
  const basic = (password: string) => `Basic ${Buffer.from(`ops:${password}`).toString('base64')}`;

  before(async () => {
    assert.ok(process.env.NODE_EXTRA_CA_CERTS, 'run with NODE_EXTRA_CA_CERTS=test/fixtures/tls/cert.pem (the test IdP is HTTPS)');
    dir = await mkdtemp(join(tmpdir(), 'kauthz-workers-'));
    idp = await startOidcIdp({
      name: 'opwg',
      clients: [{ ...CLIENT, redirect_uris: [`${EXTERNAL}/oauth/callback/idp-a`], post_logout_redirect_uris: [`${EXTERNAL}/logout`, `${EXTERNAL}/`] }],
      users: { dora: { preferred_username: 'dora', email: 'dora@example.com', groups: ['ops'] } },
    });
    group = await startReplica({ dir, name: 'group', idp, secret: SECRET, sessions: '{ store: cookie }', workers: 2 });
    assert.ok(await becomesReady(group.managementPort), `the group did not become ready:\n${group.output()}`);
    await cliOk(replicaConfig(dir, 'group'), 'create', 'ops', 'ops-password-1');
    await cliOk(replicaConfig(dir, 'group'), 'create', 'eve', 'eve-password-1');
  });

  after(async () => {
    await group?.stop();
    await idp?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('the management port reports the group: 2 workers, the decisions of both summed', async () => {
    assert.equal(await metric(group, 'kestra_authz_workers'), 2);
    assert.equal(await metric(group, 'kestra_authz_workers_ready'), 2);
    assert.equal(await metric(group, 'kestra_authz_worker_restarts_total'), 0);
    // Every worker loaded the file once: the group counts that load once (aggregator max).
    assert.equal(await metric(group, 'kestra_authz_config_reloads_total', /result="success"/), 1);
    const before = await metric(group, 'kestra_authz_decisions_total');
    for (let i = 0; i < CONNECTIONS; i++) await roaming(group).check({ path: '/app/data', headers: API });
    // Connections go to the workers in turn (2 each): only a sum over both workers makes 4.
    assert.equal(await metric(group, 'kestra_authz_decisions_total') - before, CONNECTIONS, 'every worker\'s decisions are in the sum');
  });

  test('OIDC login through the real IdP, started on one worker and finished on another; the session works on both', async () => {
    const jar = await login(roaming(group), idp, 'dora');
    for (const answer of await onEveryWorker(group, jar)) assert.deepEqual(answer, { user: 'dora' });
  });

  test('attacker: a cookie copied before /logout is refused by every worker at once', async () => {
    const jar = await pollUntil(() => formLogin(group, 'eve', 'eve-password-1').catch(() => undefined), (j) => j !== undefined, { timeoutMs: 10_000, intervalMs: 300 });
    assert.ok(jar, 'eve can log in');
    const copy = new Map(jar);
    // Each worker reads the users file the CLI just wrote on its own watch: a
    // loaded host can show eve to one worker a moment before the other.
    const everyWorkerKnowsEve = await pollUntil(() => onEveryWorker(group, copy), (answers) => answers.every((a) => a.user === 'eve'), { timeoutMs: 10_000, intervalMs: 300 });
    for (const answer of everyWorkerKnowsEve) assert.deepEqual(answer, { user: 'eve' });
    assert.equal((await formLogout(group, jar)).status, 302);
    // No waiting: the logout answered only once every worker had the session on its list.
    for (const answer of await onEveryWorker(group, copy)) {
      assert.equal(answer.status, 401, JSON.stringify(answer));
      assert.equal(errorOf(answer), 'session_invalid');
    }
  });

  test('attacker: a back-channel logout taken by one worker ends the session on every worker', async () => {
    const ivy = await login(roaming(group), idp, 'ivy');
    for (const answer of await onEveryWorker(group, ivy)) assert.deepEqual(answer, { user: 'ivy' });
    const res = await postLogoutToken(group.httpPort, 'idp-a', await mintLogoutToken(idp, CLIENT.client_id, { claims: { sub: 'ivy' } }));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    for (const answer of await onEveryWorker(group, ivy)) assert.equal(answer.status, 401, JSON.stringify(answer));
  });

  test('attacker: password guesses spread over the workers lock the user after the threshold, not N × it', async () => {
    // kestra.security.login.failed-attempts.threshold: 10 (the default). Each worker sees 5 of the 10 guesses.
    const guess = (password: string) => roaming(group).check({ path: '/app/data', headers: { ...API, authorization: basic(password) } });
    for (let i = 0; i < 10; i++) {
      const answer = await guess(`wrong-${i}`);
      assert.equal(answer.denied_response?.status?.code, 401, `guess ${i} is refused`);
    }
    // With counters per worker neither would have locked yet, and the right password would pass.
    for (let i = 0; i < CONNECTIONS; i++) {
      const answer = await guess('ops-password-1');
      assert.notEqual(answer.status?.code ?? 0, 0, `the right password is refused once the user is locked (connection ${i})`);
      assert.match(answer.denied_response?.body ?? '', /locked/, JSON.stringify(answer.denied_response?.body));
    }
  });

  test('a config change reaches every worker (SIGHUP forwarded by the primary)', async () => {
    const anonymous = async () => {
      const answers = [];
      for (let i = 0; i < CONNECTIONS; i++) answers.push(await roaming(group).check({ path: '/public/page', headers: API }));
      return answers.map((a) => a.status?.code ?? 0);
    };
    assert.ok((await anonymous()).every((code) => code !== 0), 'refused before the change');
    const path = replicaConfig(dir, 'group');
    const yaml = await readFile(path, 'utf8');
    await writeFile(path, yaml.replace('  default: authenticated\n', '  default: authenticated\n  rules:\n    - { match: { path: "/public/page" }, allow: public }\n'));
    process.kill(group.pid, 'SIGHUP');
    const codes = await pollUntil(anonymous, (all) => all.every((code) => code === 0), { timeoutMs: 15_000, intervalMs: 200 });
    assert.deepEqual(codes, Array(CONNECTIONS).fill(0), 'every worker serves the new rules');
  });

  test('a crashed worker is restarted, counted, and knows the logouts taken before it started', async () => {
    const jar = await formLogin(group, 'ops', 'ops-password-1').catch(() => undefined);
    // ops is locked by the test above when it ran first; a form session of eve then.
    const session = jar ?? await formLogin(group, 'eve', 'eve-password-1');
    const copy = new Map(session);
    assert.equal((await formLogout(group, session)).status, 302);

    const [victim] = await workerPids(group.pid);
    assert.ok(victim, 'a worker pid');
    process.kill(victim, 'SIGKILL');
    const restarted = await pollUntil(
      async () => ({ restarts: await metric(group, 'kestra_authz_worker_restarts_total'), ready: await metric(group, 'kestra_authz_workers_ready') }),
      (m) => m.restarts === 1 && m.ready === 2,
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    assert.deepEqual(restarted, { restarts: 1, ready: 2 }, 'the new worker started and is ready');
    assert.ok(await becomesReady(group.managementPort), 'the group is ready again');
    assert.ok(!(await workerPids(group.pid)).includes(victim));
    assert.match(group.output(), /worker exited unexpectedly; starting another/);
    // Both workers, the new one included, refuse the session ended before the crash.
    for (const answer of await onEveryWorker(group, copy)) assert.equal(answer.status, 401, JSON.stringify(answer));
  });

  test('SIGTERM: every worker drains and the group exits 0', async () => {
    const pids = await workerPids(group.pid);
    assert.equal(pids.length, 2);
    await group.stop();
    assert.ok(group.exited() === 'code 0', `exit: ${group.exited()}`);
    for (const pid of pids) assert.throws(() => process.kill(pid, 0), 'the worker is gone too');
  });
});

describe('serve --workers: bad input and the cases that stay one process', () => {
  const BIN = fileURLToPath(new URL('../../../bin/kestra-authz.js', import.meta.url));

  test('--workers that is not a whole number from 1 to 64 is refused with exit 2, naming the flag', async () => {
    for (const value of ['0', '65', 'two', '1.5', '']) {
      const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
        execFile(process.execPath, [BIN, 'serve', '--workers', value], { timeout: 30_000 }, (err, _stdout, stderr) => {
          resolve({ code: err ? (err as { code?: number }).code ?? null : 0, stderr });
        });
      });
      assert.equal(code, 2, `--workers "${value}"`);
      assert.match(stderr, /--workers must be a whole number from 1 to 64/);
    }
  });

  test('an ephemeral session secret keeps one process (a cookie of one worker would not open on another), with a warning', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kauthz-workers-eph-'));
    const [grpc, http, management] = [await freePort(), await freePort(), await freePort()];
    const configPath = join(dir, 'config.yaml');
    await writeFile(configPath, `authz:\n  listen: { grpc: "127.0.0.1:${grpc}", http: "127.0.0.1:${http}", management: "127.0.0.1:${management}" }\n  users: { file: ${join(dir, 'users.yaml')} }\n`);
    const child = spawn(process.execPath, [BIN, 'serve', '--config', configPath, '--workers', '2'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    try {
      assert.ok(await becomesReady(management), `not ready:\n${out}`);
      assert.match(out, /the session secret is ephemeral \(not configured\), so one worker serves/);
      assert.deepEqual(await workerPids(child.pid!), [], 'no worker processes');
    } finally {
      assert.equal(await exitCodeAfterSigterm(child), 0);
      await rm(dir, { recursive: true, force: true });
    }
  });
});
