/**
 * The decision audit log of the real service, through its gRPC door (as
 * Envoy calls it) and its HTTP door: the fields of each line, no secret
 * anywhere in the file (Bearer token, session cookie, Basic credentials,
 * query string, webhook key), sampling, rotation by size, and a full buffer
 * dropping and counting lines while the output is stuck.
 *
 * Run with NODE_EXTRA_CA_CERTS=test/fixtures/tls/cert.pem (the token issuer is HTTPS).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expectAllowed, expectDenied } from '../helpers/grpc-door.js';
import { metricValue } from '../helpers/metric-value.js';
import { scrapeMetrics, seriesSum } from '../helpers/scraped-metrics.js';
import { auditLines, OPS_PASSWORD, startAuditService, type AuditService } from './audit-fixture.js';

const API = { accept: 'application/json' };
const QUERY_SECRET = 'q-secret-7c1f3e';
const WEBHOOK_KEY = 'webhook-key-5b9d2a';
const COOKIE_SECRET = 'cookie-secret-0e6a41';

describe('audit log: fields and secrets, through both doors', () => {
  let a: AuditService;
  let token: string;
  let lines: Record<string, unknown>[];
  let text: string;
  const basic = () => a.basic('ops', OPS_PASSWORD);

  before(async () => {
    a = await startAuditService({ 'sample-allows': 1 });
    token = await a.devToken();
    // gRPC door
    expectAllowed(await a.check({
      method: 'GET', path: `/api/v1/main/flows/company.team/hello?token=${QUERY_SECRET}`,
      headers: { ...API, authorization: `Bearer ${token}`, cookie: `kestra-ui-theme=${COOKIE_SECRET}-ui`, 'x-request-id': 'req-bearer-allow' },
    }));
    expectDenied(await a.check({
      method: 'DELETE', path: '/api/v1/main/flows/company.other/hello',
      headers: { ...API, authorization: `Bearer ${token}`, 'x-request-id': 'req-bearer-403' },
    }), 403);
    expectAllowed(await a.check({ method: 'GET', path: '/api/v1/main/flows/company.team/f', headers: { ...API, authorization: basic(), 'x-request-id': 'req-basic' } }));
    expectAllowed(await a.check({ method: 'POST', path: `/api/v1/main/executions/webhook/company.team/f/${WEBHOOK_KEY}?x=${QUERY_SECRET}`, headers: { ...API, 'x-request-id': 'req-webhook' } }));
    expectDenied(await a.check({ method: 'GET', path: '/api/v1/main/flows/company.team/f', headers: { ...API, cookie: `JWT=${COOKIE_SECRET}`, 'x-request-id': 'req-session' } }), 401);
    expectDenied(await a.check({ method: 'GET', path: '/api/v1/main/flows/company.team/f', headers: { ...API, authorization: a.basic('ops', `${OPS_PASSWORD}-wrong`), 'x-request-id': 'req-bad-basic' } }), 401);
    // HTTP door (Envoy HTTP ext_authz path prefix)
    const allowed = await fetch(`${a.httpDoor}/ext_authz/api/v1/main/flows/company.team/hello?secret=${QUERY_SECRET}`, {
      headers: { ...API, authorization: `Bearer ${token}`, 'x-request-id': 'req-http-allow' },
    });
    assert.equal(allowed.status, 200);
    const denied = await fetch(`${a.httpDoor}/ext_authz/api/v1/main/executions/webhook/company.team/f/${WEBHOOK_KEY}`, { method: 'POST', headers: { ...API, 'x-request-id': 'req-http-webhook' } });
    assert.equal(denied.status, 200);
    await a.stop();
    text = await readFile(a.output, 'utf8');
    lines = await auditLines(a.output);
  });
  after(() => a?.dispose());

  const line = (id: string): Record<string, unknown> => {
    const found = lines.find((l) => l.requestId === id);
    assert.ok(found, `no audit line for ${id} in:\n${text}`);
    return found;
  };

  test('one line per decision, every one JSON with the documented fields', () => {
    assert.equal(lines.length, 8);
    for (const l of lines) {
      assert.equal(l.event, 'authz.decision');
      assert.ok(!Number.isNaN(Date.parse(l.time as string)), 'time is ISO 8601');
      for (const key of ['requestId', 'mode', 'method', 'host', 'path', 'rule', 'verdict', 'reason']) assert.equal(typeof l[key], 'string', key);
      assert.equal(typeof l.status, 'number');
    }
  });

  test('an allow by a Bearer token: route template, rule, tenant, namespace, permission, identity', () => {
    assert.deepEqual(line('req-bearer-allow'), {
      ...line('req-bearer-allow'),
      mode: 'grpc',
      method: 'GET',
      path: '/api/v1/main/flows/company.team/hello',
      browser: false,
      route: '/api/v1/{tenant}/flows/{namespace}/{flowId}/**',
      rule: 'kestra:flows.read',
      tenant: 'main',
      namespace: 'company.team',
      permission: 'FLOW:READ',
      verdict: 'allow',
      status: 200,
      reason: 'permitted',
      identity: { name: 'dev', subject: 'u-dev', via: 'bearer', groups: ['kestra-devs'], issuer: a.issuer.issuer },
    });
  });

  test('a 403 names the permission and the identity; a Basic identity says so', () => {
    const forbidden = line('req-bearer-403');
    assert.equal(forbidden.verdict, 'deny');
    assert.equal(forbidden.status, 403);
    assert.equal(forbidden.reason, 'permission_denied');
    assert.equal(forbidden.permission, 'FLOW:DELETE');
    assert.equal(forbidden.namespace, 'company.other');
    const viaBasic = line('req-basic');
    assert.deepEqual(viaBasic.identity, { name: 'ops', subject: 'ops', via: 'basic', groups: ['kestra-devs'] });
    assert.equal(line('req-bad-basic').reason, 'basic_bad_credentials');
    assert.equal(line('req-bad-basic').identity, undefined);
    assert.equal(line('req-session').status, 401);
  });

  test('the webhook key is masked, through either door, and the rule is still named', () => {
    for (const id of ['req-webhook', 'req-http-webhook']) {
      const hook = line(id);
      assert.equal(hook.path, '/api/v1/main/executions/webhook/company.team/f/_masked_');
      assert.equal(hook.route, '/api/v1/{tenant}/executions/webhook/{namespace}/{flowId}/{key}/**');
      assert.equal(hook.verdict, 'allow');
    }
    assert.equal(line('req-http-allow').mode, 'http');
  });

  test('no token, cookie, credential, password, query string, webhook key or email anywhere in the file', () => {
    const basicValue = basic().slice('Basic '.length);
    for (const secret of [token, token.split('.')[2]!, COOKIE_SECRET, basicValue, OPS_PASSWORD, QUERY_SECRET, WEBHOOK_KEY, 'dev@example.com', 'Bearer', 'authorization', 'cookie']) {
      assert.ok(!text.includes(secret), `the audit log holds ${secret.slice(0, 12)}…:\n${text}`);
    }
    assert.ok(!text.includes('?'), 'no query string');
  });
});

describe('audit log: sampling', () => {
  test('sample-allows 0 writes no allow; denials are all written', async () => {
    const a = await startAuditService({ 'sample-allows': 0 });
    try {
      const token = await a.devToken();
      for (let i = 0; i < 5; i++) {
        expectAllowed(await a.check({ method: 'GET', path: '/api/v1/main/flows/company.team/f', headers: { ...API, authorization: `Bearer ${token}` } }));
        expectDenied(await a.check({ method: 'GET', path: '/api/v1/main/flows/company.team/f', headers: API }), 401);
      }
      await a.stop();
      const lines = await auditLines(a.output);
      assert.equal(lines.length, 5);
      assert.ok(lines.every((l) => l.verdict === 'deny' && l.status === 401));
    } finally {
      await a.dispose();
    }
  });

  test('sample-denies 0 and sample-allows 1: every allow, no denial', async () => {
    const a = await startAuditService({ 'sample-allows': 1, 'sample-denies': 0 });
    try {
      const token = await a.devToken();
      for (let i = 0; i < 4; i++) {
        expectAllowed(await a.check({ method: 'GET', path: '/api/v1/main/flows/company.team/f', headers: { ...API, authorization: `Bearer ${token}` } }));
        expectDenied(await a.check({ method: 'GET', path: '/api/v1/main/flows/company.team/f', headers: API }), 401);
      }
      await a.stop();
      const lines = await auditLines(a.output);
      assert.equal(lines.length, 4);
      assert.ok(lines.every((l) => l.verdict === 'allow'));
    } finally {
      await a.dispose();
    }
  });
});

describe('audit log: rotation by size', () => {
  test('file, file.1, file.2 each under max-size; the oldest beyond max-files deleted', async () => {
    const a = await startAuditService({ 'max-size': '1KiB', 'max-files': 3 });
    try {
      for (let i = 0; i < 30; i++) {
        expectDenied(await a.check({ method: 'GET', path: `/api/v1/main/flows/company.team/f${i}`, headers: { ...API, 'x-request-id': `rot-${i}` } }), 401);
      }
      await a.stop();
      const files = (await readdir(a.dir)).filter((f) => f.startsWith('audit.log')).sort();
      assert.deepEqual(files, ['audit.log', 'audit.log.1', 'audit.log.2']);
      const kept: string[] = [];
      for (const name of ['audit.log.2', 'audit.log.1', 'audit.log']) {
        const file = join(a.dir, name);
        assert.ok((await stat(file)).size <= 1024, `${name} is larger than max-size`);
        kept.push(...(await auditLines(file)).map((l) => l.requestId as string));
      }
      // Oldest first across the files, ending with the last request: whole lines, in order, none lost between the kept files.
      const first = Number(kept[0]!.slice('rot-'.length));
      assert.ok(first > 0, 'the oldest lines went with the deleted file');
      assert.deepEqual(kept, Array.from({ length: 30 - first }, (_, i) => `rot-${first + i}`));
    } finally {
      await a.dispose();
    }
  });
});

describe('audit log: a full buffer drops and counts, never holding a decision', () => {
  test('output stuck (a FIFO nobody reads): decisions go on, lines past buffer-lines are dropped and counted', async () => {
    const { mkdtemp, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const fifoDir = await mkdtemp(join(tmpdir(), 'kauthz-audit-fifo-'));
    const fifo = join(fifoDir, 'audit.pipe');
    await promisify(execFile)('mkfifo', [fifo]);
    const a = await startAuditService({ 'buffer-lines': 2 }, { output: fifo });
    try {
      const droppedBefore = await metricValue('kestra_authz_audit_dropped_total', { reason: 'buffer_full' });
      // Opening the FIFO for writing waits for a reader: the writer holds one line, the buffer two.
      for (let i = 0; i < 6; i++) {
        expectDenied(await a.check({ method: 'GET', path: '/api/v1/main/flows/company.team/f', headers: { ...API, 'x-request-id': `stuck-${i}` } }), 401);
      }
      assert.equal(await metricValue('kestra_authz_audit_dropped_total', { reason: 'buffer_full' }) - droppedBefore, 3);
      const scraped = await scrapeMetrics(a.service.managementPort);
      assert.ok(seriesSum(scraped, 'kestra_authz_audit_dropped_total', /reason="buffer_full"/) >= 3);
      // A reader appears: the held lines are written, then the service stops (end of the FIFO).
      const chunks: Buffer[] = [];
      const reader = createReadStream(fifo);
      const ended = new Promise<void>((resolve, reject) => {
        reader.on('data', (c) => chunks.push(c as Buffer));
        reader.on('end', resolve);
        reader.on('error', reject);
      });
      await new Promise((r) => reader.once('open', r));
      await a.stop();
      await ended;
      const written = Buffer.concat(chunks).toString('utf8').split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { requestId: string }).requestId);
      assert.deepEqual(written, ['stuck-0', 'stuck-1', 'stuck-2']);
    } finally {
      await a.dispose();
      await rm(fifoDir, { recursive: true, force: true });
    }
  });
});
