/**
 * The audit writer when its output fails: a file that cannot be opened
 * (a folder in its place) drops the lines of each failed write, counts them
 * (`kestra_authz_audit_dropped_total{reason="write_error"}`), logs the
 * failure once, and never throws to the caller; once the path is writable
 * again, lines are written and the recovery is logged.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { AuditWriter } from '../../src/audit/audit-writer.js';
import { createLogger } from '../../src/observability/logger.js';
import { metricValue } from '../helpers/metric-value.js';

test('a failing output: lines dropped and counted, one error logged, nothing thrown; then writing again', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kauthz-audit-writer-'));
  const output = join(dir, 'audit.log');
  await mkdir(output);
  const logged: Record<string, unknown>[] = [];
  const sink = new Writable({ write(chunk: Buffer, _enc, done) { logged.push(JSON.parse(chunk.toString()) as Record<string, unknown>); done(); } });
  const writer = new AuditWriter({ output, maxSizeBytes: 1_000_000, maxFiles: 2, bufferLines: 100 }, createLogger('info', sink));
  const before = await metricValue('kestra_authz_audit_dropped_total', { reason: 'write_error' });
  try {
    for (let i = 0; i < 3; i++) {
      assert.doesNotThrow(() => writer.write(`{"n":${i}}`));
      // Each line its own write attempt.
      while (writer.queued > 0) await sleep(5);
      await sleep(20);
    }
    assert.equal(await metricValue('kestra_authz_audit_dropped_total', { reason: 'write_error' }) - before, 3);
    const errors = logged.filter((l) => l.level === 'error');
    assert.equal(errors.length, 1, JSON.stringify(logged));
    assert.match(String(errors[0]!.msg), /audit log: write failed/);
    await rm(output, { recursive: true });
    writer.write('{"n":3}');
  } finally {
    await writer.close();
  }
  assert.equal(await readFile(output, 'utf8'), '{"n":3}\n');
  assert.ok(logged.some((l) => l.msg === 'audit log: writing again'));
  await rm(dir, { recursive: true, force: true });
});

test('an output stuck at shutdown (a FIFO nobody reads) does not hold close(): its lines are dropped and counted', async () => {
  const { execFile } = await import('node:child_process');
  const { promisify } = await import('node:util');
  const { createReadStream } = await import('node:fs');
  const dir = await mkdtemp(join(tmpdir(), 'kauthz-audit-stuck-'));
  const fifo = join(dir, 'audit.pipe');
  await promisify(execFile)('mkfifo', [fifo]);
  const writer = new AuditWriter({ output: fifo, maxSizeBytes: 1_000_000, maxFiles: 2, bufferLines: 100 }, createLogger('silent'));
  const before = await metricValue('kestra_authz_audit_dropped_total', { reason: 'write_error' });
  for (let i = 0; i < 3; i++) writer.write(`{"n":${i}}`);
  await writer.close(200);
  assert.equal(await metricValue('kestra_authz_audit_dropped_total', { reason: 'write_error' }) - before, 3);
  // Let the pending open finish (a reader appears) so the test process can end.
  const reader = createReadStream(fifo);
  reader.resume();
  await new Promise<void>((resolve) => reader.once('close', () => resolve()));
  await rm(dir, { recursive: true, force: true });
});
