/** The export failure log: one line per interval with what failed meanwhile, a line when export works again. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/observability/logger.js';
import { createExportFailureLog } from '../../src/observability/tracing-failures.js';

function capture(): { lines: () => Record<string, unknown>[]; logger: ReturnType<typeof createLogger> } {
  const out: string[] = [];
  const sink = new Writable({ write(chunk: Buffer, _e, done) { out.push(...chunk.toString().split('\n').filter(Boolean)); done(); } });
  return { logger: createLogger('info', sink), lines: () => out.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

/** pino writes asynchronously through the stream; give it a turn. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('export failure log', () => {
  test('rate-limited: first failure logged, then one line per interval with the counts', async () => {
    let now = 1_000_000;
    const { logger, lines } = capture();
    const log = createExportFailureLog(logger, 'http://collector:4318/v1/traces', { intervalMs: 60_000, now: () => now });
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:4318'), { code: 'ECONNREFUSED' });
    log.failed(refused, 10);
    for (let i = 0; i < 5; i++) {
      now += 1_000;
      log.failed(refused, 2);
    }
    await settle();
    assert.equal(lines().length, 1);
    const { level, endpoint, err, failedExports, droppedSpans, msg } = lines()[0]! as Record<string, unknown> & { err: Record<string, unknown> };
    assert.deepEqual(
      { level, endpoint, failedExports, droppedSpans, msg, err: { name: err.name, message: err.message, code: err.code } },
      {
        level: 'warn',
        endpoint: 'http://collector:4318/v1/traces',
        failedExports: 1,
        droppedSpans: 10,
        msg: 'trace export failed; spans are dropped, decisions are not affected',
        err: { name: 'Error', message: 'connect ECONNREFUSED 127.0.0.1:4318', code: 'ECONNREFUSED' },
      },
    );
    now += 60_000;
    log.failed(refused, 1);
    await settle();
    assert.equal(lines().length, 2);
    assert.equal(lines()[1]!.failedExports, 6, 'the five suppressed failures and this one');
    assert.equal(lines()[1]!.droppedSpans, 11);
  });

  test('recovery is logged once, and the next failure is logged right away', async () => {
    let now = 0;
    const { logger, lines } = capture();
    const log = createExportFailureLog(logger, 'e', { intervalMs: 60_000, now: () => now });
    log.succeeded();
    log.failed(new Error('Service Unavailable'), 1);
    log.succeeded();
    log.succeeded();
    now += 1;
    log.failed(undefined, 3);
    await settle();
    assert.deepEqual(lines().map((l) => l.msg), [
      'trace export failed; spans are dropped, decisions are not affected',
      'trace export works again',
      'trace export failed; spans are dropped, decisions are not affected',
    ]);
    assert.equal((lines()[2]!.err as { message: string }).message, 'export failed');
  });

  test('long messages are cut', async () => {
    const { logger, lines } = capture();
    createExportFailureLog(logger, 'e').failed(new Error('x'.repeat(5_000)), 1);
    await settle();
    assert.equal((lines()[0]!.err as { message: string }).message.length, 200);
  });
});
