/**
 * Shadow rules end to end through the real gRPC door: Envoy-shaped
 * CheckRequests with real Bearer tokens against the real service, a stricter
 * shadow file plus a `shadow: true` rule. The live answer stays as it was;
 * each disagreement is counted on /metrics and logged with its fields and no
 * secret; agreements and bad credentials are not disagreements; the shadow
 * file follows a hot reload, and a bad one is a config error naming it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { parse, stringify } from 'yaml';
import { loadConfigFile } from '../../src/config/load-config.js';
import { ConfigError } from '../../src/core/errors.js';
import { createLogger } from '../../src/observability/logger.js';
import { createConfigReloader, type ConfigReloader } from '../../src/server/config-reload.js';
import { startService, type RunningService } from '../../src/server/service.js';
import { bearerServiceYaml } from '../helpers/bearer-service-config.js';
import { envoyCheckRequest, type EnvoyCheckRequestInit } from '../helpers/envoy-check-request.js';
import { createAuthzClient, type AuthzClient } from '../helpers/grpc-client.js';
import { expectAllowed, expectDenied } from '../helpers/grpc-door.js';
import { pollUntil } from '../helpers/poll.js';
import { scrapeMetrics, seriesSum } from '../helpers/scraped-metrics.js';
import { startTokenIssuer, type TokenIssuer } from '../helpers/token-issuer.js';

const DISAGREEMENTS = 'kestra_authz_shadow_disagreements_total';
const EVALUATIONS = 'kestra_authz_shadow_evaluations_total';
const ANY = /./;

/** The shadow file: the same roles, except that `developer` may only read flows (a stricter policy). */
function shadowYaml(developerFlow: readonly string[]): string {
  return stringify({
    authz: {
      roles: [{ name: 'developer', permissions: { FLOW: developerFlow, EXECUTION: ['CREATE', 'READ', 'UPDATE'] } }],
      bindings: [{ group: 'kestra-devs', role: 'developer', namespace: 'company.team' }],
      rules: [{ match: { path: '/healthz' }, allow: 'public' }],
    },
    kestra: { security: { 'default-role': { name: 'viewer', permissions: { FLOW: ['READ'], EXECUTION: ['READ'] } } } },
  });
}

function mainYaml(dir: string, issuer: string, shadowFile: string): string {
  const tree = parse(bearerServiceYaml({
    dir,
    issuer,
    rules: [
      { id: 'no-exports', match: { methods: ['GET'], path: '/exports/{namespace}/**' }, allow: 'deny', shadow: true },
    ],
  })) as { authz: Record<string, unknown> };
  tree.authz.shadow = shadowFile;
  return stringify(tree);
}

describe('shadow policy through the gRPC door', () => {
  let dir: string;
  let configPath: string;
  let shadowPath: string;
  let issuer: TokenIssuer;
  let service: RunningService;
  let client: AuthzClient;
  let reloader: ConfigReloader;
  let devToken: string;
  const logLines: string[] = [];

  const check = (init: EnvoyCheckRequestInit) => client.check(envoyCheckRequest(init));
  const asDev = (extra: Record<string, string> = {}) => ({ accept: 'application/json', authorization: `Bearer ${devToken}`, ...extra });
  const metrics = async (): Promise<string> => scrapeMetrics(service.managementPort);
  const count = (text: string, name: string, labels: RegExp = ANY): number => seriesSum(text, name, labels);
  const outcome = (text: string, name: string): number => count(text, EVALUATIONS, new RegExp(`outcome="${name}"`));
  const evaluated = (text: string): number => count(text, EVALUATIONS);
  /** Waits until `n` more requests than `before` were seen by the shadow policy. */
  const afterShadow = async (before: string, n: number): Promise<string> =>
    pollUntil(metrics, (text) => evaluated(text) >= evaluated(before) + n);
  const shadowLogs = (): Record<string, unknown>[] =>
    logLines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'shadow disagreement');

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kauthz-shadow-'));
    issuer = await startTokenIssuer();
    await issuer.addKey('k1');
    devToken = await issuer.mint({ sub: 'u-dev', preferred_username: 'dev', aud: 'kestra', resource_access: { kestra: { roles: ['kestra-devs'] } } }, { kid: 'k1' });
    configPath = join(dir, 'config.yaml');
    shadowPath = join(dir, 'stricter.yaml');
    await writeFile(shadowPath, shadowYaml(['READ']));
    // Relative to the config file's directory.
    await writeFile(configPath, mainYaml(dir, issuer.issuer, 'stricter.yaml'));
    await writeFile(join(dir, 'users.yaml'), 'users: []\n', { mode: 0o600 });
    const sink = new Writable({ write(chunk: Buffer, _e, done) { logLines.push(...chunk.toString().split('\n').filter(Boolean)); done(); } });
    const logger = createLogger('info', sink);
    service = await startService(await loadConfigFile(configPath), { logger });
    client = createAuthzClient(service.grpcPort);
    reloader = createConfigReloader({ path: configPath, runtime: service.runtime, services: service.services, logger });
  });

  after(async () => {
    client?.close();
    await service?.close();
    await issuer?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('the shadow file replaces the live policy as the shadow; the shadow rule is in force there only', async () => {
    const config = await loadConfigFile(configPath);
    assert.equal(config.shadow?.file, shadowPath);
    assert.deepEqual(config.shadow?.ruleIds, ['no-exports']);
    assert.ok(!config.rules.some((r) => r.id === 'no-exports'), 'the live policy never sees a shadow rule');
    assert.deepEqual(config.shadow?.policy.rules.map((r) => r.id), ['no-exports', 'rule[0]']);
    assert.equal(config.shadow?.policy.shadow, undefined);
  });

  test('a stricter shadow: the live answer is unchanged, the disagreement counted and logged without secrets', async () => {
    const before = await metrics();
    logLines.length = 0;
    const secretQuery = 'sig=query-secret-value-1';
    const res = await check({
      method: 'DELETE',
      path: `/api/v1/main/flows/company.team/hello?${secretQuery}`,
      headers: asDev({ cookie: 'theme=dark; other=cookie-secret-value-2' }),
    });
    expectAllowed(res);
    const text = await afterShadow(before, 1);
    const labels = /live="allow",shadow="403",rule="kestra:flows\.delete"/;
    assert.equal(count(text, DISAGREEMENTS, labels) - count(before, DISAGREEMENTS, labels), 1, text);
    assert.equal(outcome(text, 'disagree') - outcome(before, 'disagree'), 1);

    const lines = await pollUntil(async () => shadowLogs(), (l) => l.length > 0);
    assert.equal(lines.length, 1, JSON.stringify(lines));
    const line = lines[0]!;
    assert.equal(line.level, 'info');
    assert.ok(typeof line.requestId === 'string' && line.requestId.length > 0);
    assert.equal(line.method, 'DELETE');
    assert.equal(line.route, '/api/v1/{tenant}/flows/{namespace}/{flowId}');
    assert.equal(line.namespace, 'company.team');
    assert.equal(line.tenant, 'main');
    assert.equal(line.user, 'dev');
    assert.deepEqual(line.live, { verdict: 'allow', reason: 'permitted', rule: 'kestra:flows.delete', route: '/api/v1/{tenant}/flows/{namespace}/{flowId}' });
    assert.deepEqual(line.shadow, { verdict: '403', reason: 'permission_denied', rule: 'kestra:flows.delete', route: '/api/v1/{tenant}/flows/{namespace}/{flowId}', permission: 'FLOW:DELETE' });
    const raw = logLines.join('\n');
    for (const secret of [devToken, devToken.split('.')[2]!, 'query-secret-value-1', 'cookie-secret-value-2', '/flows/company.team/hello']) {
      assert.ok(!raw.includes(secret), `the log must not contain ${secret.slice(0, 12)}…`);
    }
  });

  test('a shadow rule: the live policy allows, the shadow rule would deny', async () => {
    const before = await metrics();
    expectAllowed(await check({ method: 'GET', path: '/exports/company.team/report.csv', headers: asDev() }));
    // Anonymous: live asks for credentials, the shadow rule denies outright.
    expectDenied(await check({ method: 'GET', path: '/exports/company.team/report.csv', headers: { accept: 'application/json' } }), 401);
    const text = await afterShadow(before, 2);
    const byRule = (live: string) => new RegExp(`live="${live}",shadow="403",rule="no-exports"`);
    assert.equal(count(text, DISAGREEMENTS, byRule('allow')) - count(before, DISAGREEMENTS, byRule('allow')), 1);
    assert.equal(count(text, DISAGREEMENTS, byRule('401')) - count(before, DISAGREEMENTS, byRule('401')), 1);
  });

  test('agreement and bad credentials are not disagreements', async () => {
    const before = await metrics();
    expectAllowed(await check({ method: 'GET', path: '/api/v1/main/flows/company.team/hello', headers: asDev() }));
    expectAllowed(await check({ method: 'GET', path: '/healthz' }));
    // A bad credential is not a policy question: skipped.
    expectDenied(await check({ method: 'GET', path: '/api/v1/main/flows/company.team/hello', headers: { accept: 'application/json', authorization: 'Bearer not.a.token' } }), 401);
    const text = await afterShadow(before, 3);
    assert.equal(count(text, DISAGREEMENTS), count(before, DISAGREEMENTS), 'no disagreement counted');
    assert.equal(outcome(text, 'agree') - outcome(before, 'agree'), 2);
    assert.equal(outcome(text, 'skipped') - outcome(before, 'skipped'), 1);
  });

  test('hot reload picks up an edited shadow file; a bad one is rejected naming it and the running shadow stays', async () => {
    // Promote-ready: the shadow now grants what live grants, so DELETE agrees.
    await writeFile(shadowPath, shadowYaml(['CREATE', 'READ', 'UPDATE', 'DELETE']));
    assert.equal(await reloader.reload(), 'success');
    let before = await metrics();
    expectAllowed(await check({ method: 'DELETE', path: '/api/v1/main/flows/company.team/hello', headers: asDev() }));
    let text = await afterShadow(before, 1);
    assert.equal(outcome(text, 'agree') - outcome(before, 'agree'), 1);

    await writeFile(shadowPath, 'authz:\n  default: sometimes\n');
    await assert.rejects(loadConfigFile(configPath), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.file, shadowPath);
      assert.match(err.message, /stricter\.yaml:2: authz\.default/);
      return true;
    });
    assert.equal(await reloader.reload(), 'failure');
    const rejected = logLines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg?.toString().startsWith('config reload rejected'));
    assert.equal(rejected.at(-1)?.source, shadowPath);

    before = await metrics();
    expectAllowed(await check({ method: 'DELETE', path: '/api/v1/main/flows/company.team/hello', headers: asDev() }));
    text = await afterShadow(before, 1);
    assert.equal(outcome(text, 'agree') - outcome(before, 'agree'), 1, 'the shadow loaded before keeps evaluating');
  });

  test('a missing shadow file or a shadow of a shadow is a config error', async () => {
    await writeFile(configPath, mainYaml(dir, issuer.issuer, 'missing.yaml'));
    await assert.rejects(loadConfigFile(configPath), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.file, configPath);
      assert.match(err.message, /authz\.shadow: cannot read the shadow config .*missing\.yaml \(ENOENT\)/);
      return true;
    });
    await writeFile(configPath, mainYaml(dir, issuer.issuer, 'stricter.yaml'));
    await writeFile(shadowPath, 'authz:\n  shadow: other.yaml\n  rules:\n    - match: { path: /x }\n      allow: public\n      shadow: true\n');
    await assert.rejects(loadConfigFile(configPath), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.file, shadowPath);
      assert.deepEqual(err.problems.map((p) => p.key), ['authz.shadow', 'authz.rules[0].shadow']);
      return true;
    });
  });
});
