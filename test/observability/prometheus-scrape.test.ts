/**
 * The real Prometheus scrapes the real service. A `kestra-authz serve`
 * child process (the packaged entry point) answers a few gRPC Checks; Debian's
 * /usr/bin/prometheus scrapes its management port every second with the job
 * name and alert rules of the compose demo (deploy/prometheus/). Through
 * Prometheus' HTTP API: `up` is 1, kestra_authz_* series arrive, every
 * dashboard query is valid PromQL that Prometheus evaluates, and every alert
 * rule loads and evaluates without error. `promtool` passes our /metrics
 * output (`check metrics`: no lint problem) and the demo's config and rules.
 * Missing prometheus/promtool: skipped with a message, a failure under CI=true.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { envoyCheckRequest } from '../helpers/envoy-check-request.js';
import { missingToolSkipReason } from '../helpers/executables.js';
import { freePort } from '../helpers/free-port.js';
import { createAuthzClient, type AuthzClient } from '../helpers/grpc-client.js';
import { startTokenIssuer, type TokenIssuer } from '../helpers/token-issuer.js';
import { dashboardQueries, withVariables } from './dashboard.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = join(ROOT, 'bin/kestra-authz.js');
const PROMETHEUS = '/usr/bin/prometheus';
const PROMTOOL = '/usr/bin/promtool';
const DEMO_CONFIG = join(ROOT, 'deploy/prometheus/prometheus.yml');
const DEMO_RULES = join(ROOT, 'deploy/prometheus/alerts.yml');
/** The job name of the demo's prometheus.yml, which the alert rules select on. */
const JOB = 'kestra-authz';

interface Ran { readonly code: number | null; readonly stdout: string; readonly stderr: string }

/** Runs a tool to completion, feeding `stdin`. */
function run(file: string, args: readonly string[], stdin = ''): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

/** Stops a child by pid and waits for it to exit. */
async function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  process.kill(child.pid!, 'SIGTERM');
  const timer = setTimeout(() => { if (child.exitCode === null) process.kill(child.pid!, 'SIGKILL'); }, 15_000);
  await exited;
  clearTimeout(timer);
}

/** Polls `probe` until it returns a value (not undefined) or the deadline passes. */
async function eventually<T>(what: string, probe: () => Promise<T | undefined>, log: () => string, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) assert.fail(`${what}: not within ${timeoutMs / 1000} s\n${log()}`);
    await sleep(250);
  }
}

interface Sample { readonly metric: Record<string, string>; readonly value: [number, string] }

describe('Prometheus scrapes the running service', async () => {
  const unavailable = (m: string) => new Error(m);
  const skip = (await missingToolSkipReason(PROMETHEUS, 'prometheus', 'Prometheus scrape tests', unavailable))
    ?? (await missingToolSkipReason(PROMTOOL, 'prometheus', 'Prometheus scrape tests', unavailable));
  let dir: string;
  let issuer: TokenIssuer;
  let service: ChildProcess | undefined;
  let prometheus: ChildProcess | undefined;
  let client: AuthzClient | undefined;
  let serviceLog = '';
  let prometheusLog = '';
  let metricsUrl = '';
  let api = '';

  const query = async (promql: string): Promise<{ status: string; data?: { result: Sample[] }; error?: string }> => {
    const res = await fetch(`${api}/api/v1/query?${new URLSearchParams({ query: promql })}`);
    return res.json() as Promise<{ status: string; data?: { result: Sample[] }; error?: string }>;
  };
  const logs = () => `--- kestra-authz ---\n${serviceLog.slice(-3000)}\n--- prometheus ---\n${prometheusLog.slice(-3000)}`;

  before(async () => {
    if (skip) return;
    dir = await mkdtemp(join(tmpdir(), 'kauthz-prometheus-'));
    issuer = await startTokenIssuer();
    await issuer.addKey('k1');
    const [grpcPort, httpPort, managementPort, prometheusPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const configPath = join(dir, 'config.yaml');
    await writeFile(configPath, `
kestra:
  encryption: { secret-key: "prometheus-test-secret-0123456789abcdef" }
authz:
  listen: { grpc: "127.0.0.1:${grpcPort}", http: "127.0.0.1:${httpPort}", management: "127.0.0.1:${managementPort}" }
  users: { file: ${JSON.stringify(join(dir, 'users.yaml'))} }
  bearer:
    issuers: [{ issuer: "${issuer.issuer}", audiences: [kestra] }]
  default: authenticated
  log: { level: warn }
`);
    service = spawn(process.execPath, [BIN, 'serve', '--config', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    service.stdout!.on('data', (d: Buffer) => { serviceLog += d.toString(); });
    service.stderr!.on('data', (d: Buffer) => { serviceLog += d.toString(); });
    metricsUrl = `http://127.0.0.1:${managementPort}/metrics`;
    await eventually('kestra-authz ready', async () => ((await fetch(`http://127.0.0.1:${managementPort}/readyz`)).ok ? true : undefined), logs);

    client = createAuthzClient(grpcPort);
    const token = await issuer.mint({ sub: 'u1', aud: 'kestra' });
    const allowed = await client.check(envoyCheckRequest({ path: '/app/home', headers: { accept: 'application/json', authorization: `Bearer ${token}` } }));
    assert.equal(allowed.status?.code ?? 0, 0, JSON.stringify(allowed));
    const denied = await client.check(envoyCheckRequest({ path: '/app/home', headers: { accept: 'application/json' } }));
    assert.equal(denied.denied_response?.status?.code, 401, JSON.stringify(denied));

    const prometheusConfig = join(dir, 'prometheus.yml');
    await writeFile(prometheusConfig, `
global: { scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s }
rule_files: [${JSON.stringify(DEMO_RULES)}]
scrape_configs:
  - job_name: ${JOB}
    static_configs: [{ targets: ["127.0.0.1:${managementPort}"] }]
`);
    await mkdir(join(dir, 'tsdb'));
    api = `http://127.0.0.1:${prometheusPort}`;
    prometheus = spawn(PROMETHEUS, [
      `--config.file=${prometheusConfig}`,
      `--storage.tsdb.path=${join(dir, 'tsdb')}`,
      `--web.listen-address=127.0.0.1:${prometheusPort}`,
      '--log.level=warn',
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    prometheus.stdout!.on('data', (d: Buffer) => { prometheusLog += d.toString(); });
    prometheus.stderr!.on('data', (d: Buffer) => { prometheusLog += d.toString(); });
    await eventually('Prometheus scraped the service (up == 1)', async () => {
      const up = await query(`up{job="${JOB}"}`);
      return up.data?.result[0]?.value[1] === '1' ? true : undefined;
    }, logs);
  });

  after(async () => {
    client?.close();
    await stop(prometheus);
    await stop(service);
    await issuer?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('up == 1 and kestra_authz_* series are stored, with the instance and job labels', { skip }, async () => {
    const up = await query(`up{job="${JOB}"} == 1`);
    assert.equal(up.data?.result.length, 1);
    const decisions = await eventually('decisions in Prometheus', async () => {
      const r = await query(`sum by (result) (kestra_authz_decisions_total{job="${JOB}", mode="grpc"})`);
      return r.data?.result.length === 2 ? r.data.result : undefined;
    }, logs);
    assert.deepEqual(Object.fromEntries(decisions.map((s) => [s.metric.result, Number(s.value[1])])), { allow: 1, deny: 1 });
    for (const promql of [
      `kestra_authz_build_info{job="${JOB}"} == 1`,
      `kestra_authz_jwks_keys{job="${JOB}", issuer="${issuer.issuer}"} == 1`,
      `kestra_authz_config_reloads_total{job="${JOB}", result="success"} == 1`,
      `kestra_authz_decision_duration_seconds_count{job="${JOB}", mode="grpc"} == 2`,
      `kestra_authz_decision_duration_seconds_bucket{job="${JOB}", mode="grpc", le="+Inf"} == 2`,
      `process_resident_memory_bytes{job="${JOB}"} > 0`,
    ]) {
      const r = await query(promql);
      assert.equal(r.status, 'success', `${promql}: ${r.error}`);
      assert.equal(r.data?.result.length, 1, `${promql}: ${JSON.stringify(r.data?.result)}`);
    }
  });

  test('every dashboard query is valid PromQL that Prometheus evaluates', { skip }, async () => {
    const queries = dashboardQueries();
    assert.ok(queries.length >= 20);
    for (const { panel, refId, expr } of queries) {
      const promql = withVariables(expr, { job: JOB });
      const r = await query(promql);
      assert.equal(r.status, 'success', `${panel} ${refId}: ${promql}: ${r.error}`);
    }
    // And the queries select this job's series: a plain selector panel answers with data.
    const memory = queries.find((q) => q.expr.startsWith('process_resident_memory_bytes'));
    assert.ok(memory);
    assert.equal((await query(withVariables(memory.expr, { job: JOB }))).data?.result.length, 1);
  });

  test('the demo alert rules load into Prometheus and evaluate without error', { skip }, async () => {
    const rules = await eventually('every rule evaluated', async () => {
      const res = await (await fetch(`${api}/api/v1/rules`)).json() as { data: { groups: { rules: { name: string; health: string; lastError?: string }[] }[] } };
      const all = res.data.groups.flatMap((g) => g.rules);
      return all.length && all.every((r) => r.health !== 'unknown') ? all : undefined;
    }, logs);
    assert.equal(rules.length, 10);
    for (const rule of rules) assert.equal(rule.health, 'ok', `${rule.name}: ${rule.lastError}`);
    // Nothing is wrong with this service: no alert fires.
    const alerts = await (await fetch(`${api}/api/v1/alerts`)).json() as { data: { alerts: { labels: { alertname: string }; state: string }[] } };
    assert.deepEqual(alerts.data.alerts.filter((a) => a.state === 'firing').map((a) => a.labels.alertname), []);
  });

  test('promtool check metrics: our /metrics has no lint problem', { skip }, async () => {
    const scrape = await (await fetch(metricsUrl)).text();
    const checked = await run(PROMTOOL, ['check', 'metrics'], scrape);
    assert.equal(checked.code, 0, `promtool check metrics:\n${checked.stdout}${checked.stderr}`);
    assert.equal((checked.stdout + checked.stderr).trim(), '');
  });

  test('promtool check config/rules: the compose demo\'s Prometheus files are valid', { skip }, async () => {
    const config = await run(PROMTOOL, ['check', 'config', DEMO_CONFIG]);
    assert.equal(config.code, 0, config.stdout + config.stderr);
    assert.match(config.stdout + config.stderr, /SUCCESS: 1 rule files found/);
    const rules = await run(PROMTOOL, ['check', 'rules', DEMO_RULES]);
    assert.equal(rules.code, 0, rules.stdout + rules.stderr);
    assert.match(rules.stdout + rules.stderr, /SUCCESS: 10 rules found/);
  });
});
