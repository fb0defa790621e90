/**
 * `kestra-authz audit replay` as an operator runs it: a real CLI process
 * replaying an audit log the real service wrote (gRPC door) under a new
 * config. A group binding removed in NEW turns its members' allows into 403s:
 * listed, exit 1. The same config: nothing changes, exit 0 (a search is
 * replayed with the namespaces its query was bounded to). Bad input: exit 2.
 *
 * Run with NODE_EXTRA_CA_CERTS=test/fixtures/tls/cert.pem (the token issuer is HTTPS).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { expectAllowed, expectDenied } from '../helpers/grpc-door.js';
import { auditConfigYaml, OPS_PASSWORD, startAuditService, type AuditService } from './audit-fixture.js';

const BIN = fileURLToPath(new URL('../../../bin/kestra-authz.js', import.meta.url));
const API = { accept: 'application/json' };
/** Without a default role, only the kestra-devs binding lets dev and ops read or search company.team. */
const NO_DEFAULT_ROLE = { 'default-role': { name: 'nothing', permissions: {} } };

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

describe('audit replay (real CLI process)', () => {
  let a: AuditService;
  let log: string;
  let newConfig: string;

  before(async () => {
    a = await startAuditService({ 'sample-allows': 1 }, { security: NO_DEFAULT_ROLE });
    const token = await a.devToken();
    const bearer = { ...API, authorization: `Bearer ${token}` };
    const basic = { ...API, authorization: a.basic('ops', OPS_PASSWORD) };
    expectAllowed(await a.check({ method: 'DELETE', path: '/api/v1/main/flows/company.team/hello', headers: { ...bearer, 'x-request-id': 'dev-delete' } }));
    expectAllowed(await a.check({ method: 'GET', path: '/api/v1/main/flows/company.team/hello', headers: { ...bearer, 'x-request-id': 'dev-read' } }));
    expectAllowed(await a.check({ method: 'DELETE', path: '/api/v1/main/flows/company.team/other', headers: { ...basic, 'x-request-id': 'ops-delete' } }));
    // A search bounded by its query: replayed with the same namespaces (the query itself is not logged).
    expectAllowed(await a.check({ method: 'GET', path: '/api/v1/main/flows/search?namespace=company.team&q=secret-term', headers: { ...bearer, 'x-request-id': 'dev-search' } }));
    expectDenied(await a.check({ method: 'GET', path: '/api/v1/main/flows/search?q=all', headers: { ...bearer, 'x-request-id': 'dev-search-all' } }), 403);
    expectDenied(await a.check({ method: 'DELETE', path: '/api/v1/main/flows/company.prod/hello', headers: { ...bearer, 'x-request-id': 'dev-prod' } }), 403);
    expectDenied(await a.check({ method: 'GET', path: '/api/v1/main/flows/company.team/hello', headers: { ...API, 'x-request-id': 'anon' } }), 401);
    expectAllowed(await a.check({ method: 'POST', path: '/api/v1/main/executions/webhook/company.team/hello/k3y-abc', headers: { ...API, 'x-request-id': 'hook' } }));
    await a.stop();
    log = a.output;
    // NEW: the kestra-devs binding is gone.
    newConfig = join(a.dir, 'new-config.yaml');
    await writeFile(newConfig, auditConfigYaml(a.dir, a.issuer.issuer, { enabled: false }, [], NO_DEFAULT_ROLE));
  });
  after(() => a?.dispose());

  test('a removed group binding: its members\' allows listed as 403, exit 1', async () => {
    const { code, stdout, stderr } = await run(['audit', 'replay', log, '--config', newConfig]);
    assert.equal(code, 1, stderr);
    const changes = stdout.split('\n').filter((l) => l.includes(' → '));
    assert.equal(changes.length, 4, stdout);
    const dev = changes.find((l) => l.includes('request dev-delete'));
    const ops = changes.find((l) => l.includes('as ops (basic)'));
    assert.ok(changes.some((l) => l.includes('request dev-read') && l.includes('allow 200 kestra:flows.read → deny 403')), stdout);
    assert.ok(changes.some((l) => l.includes('request dev-search') && l.includes('allow 200 kestra:flows.search → deny 403')), stdout);
    assert.ok(dev && ops, stdout);
    assert.match(dev, /DELETE \/api\/v1\/\{tenant\}\/flows\/\{namespace\}\/\{flowId\} as dev \(bearer\): allow 200 kestra:flows\.delete → deny 403 kestra:flows\.delete \(permission_denied\)/);
    assert.match(dev, /request dev-delete, path \/api\/v1\/main\/flows\/company\.team\/hello\]/);
    assert.match(ops, /allow 200 kestra:flows\.delete → deny 403 kestra:flows\.delete \(permission_denied\)/);
    assert.match(stdout, /^8 decisions replayed, 4 would change$/m);
  });

  test('a search is logged with the namespaces its query bounded, never the query', async () => {
    const text = await readFile(log, 'utf8');
    assert.ok(!text.includes('secret-term') && !text.includes('?'));
    const lines = text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(lines.find((l) => l.requestId === 'dev-search')?.searchNamespaces, ['company.team']);
    assert.equal(lines.find((l) => l.requestId === 'dev-search-all')?.searchNamespaces, null);
  });

  test('the same config: nothing would change, exit 0', async () => {
    const { code, stdout, stderr } = await run(['audit', 'replay', log, '--config', a.configPath]);
    assert.equal(code, 0, `${stdout}${stderr}`);
    assert.equal(stdout.trim(), '8 decisions replayed, 0 would change');
  });

  test('a Redis sessions store in NEW is not needed (never connected to); 5xx and login-flow lines are not replayed', async () => {
    const withRedis = join(a.dir, 'new-config-redis.yaml');
    const tree = parse(await readFile(newConfig, 'utf8')) as { authz: Record<string, unknown> };
    tree.authz.sessions = { store: 'redis', url: 'redis://127.0.0.1:9/0' };
    await writeFile(withRedis, stringify(tree));
    const extra = join(a.dir, 'with-failures.log');
    const failure = { time: new Date().toISOString(), event: 'authz.decision', requestId: 'jwks-down', mode: 'grpc', method: 'GET', host: 'kestra.example.com',
      path: '/api/v1/main/flows/company.team/hello', browser: false, rule: 'kestra:flows.read', verdict: 'deny', status: 503, reason: 'jwks_unavailable' };
    const flow = { ...failure, requestId: 'login', path: '/oauth/callback/idp', rule: 'login-flow', status: 302, reason: 'login_flow' };
    await writeFile(extra, `${await readFile(log, 'utf8')}${JSON.stringify(failure)}\n${JSON.stringify(flow)}\n`);
    const { code, stdout, stderr } = await run(['audit', 'replay', extra, '--config', withRedis]);
    assert.equal(code, 1, stderr);
    assert.match(stdout, /^8 decisions replayed, 4 would change \(2 not replayed: login-flow endpoints, 5xx failures\)$/m);
  });

  test('bad input exits 2: a broken decision line, a missing file, no --config, no record at all', async () => {
    const broken = join(a.dir, 'broken.log');
    await writeFile(broken, await readFile(log, 'utf8'));
    await appendFile(broken, '{"event":"authz.decision","method":"GET"}\n');
    const bad = await run(['audit', 'replay', broken, '--config', newConfig]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /broken\.log:9: not a complete audit record/);
    assert.equal((await run(['audit', 'replay', join(a.dir, 'absent.log'), '--config', newConfig])).code, 2);
    assert.equal((await run(['audit', 'replay', log])).code, 2);
    const empty = join(a.dir, 'other.log');
    await writeFile(empty, '{"level":30,"msg":"kestra-authz ready"}\nnot json\n');
    const none = await run(['audit', 'replay', empty, '--config', newConfig]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /no audit records/);
  });

  test('service log lines beside the records (a shared stdout) are passed over', async () => {
    const mixed = join(a.dir, 'mixed.log');
    await writeFile(mixed, `{"level":30,"msg":"kestra-authz ready"}\n${await readFile(log, 'utf8')}plain text\n`);
    const { code, stdout } = await run(['audit', 'replay', mixed, '--config', a.configPath]);
    assert.equal(code, 0);
    assert.match(stdout, /8 decisions replayed, 0 would change/);
  });
});
