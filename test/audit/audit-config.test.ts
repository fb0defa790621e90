/** `authz.audit`: defaults, both key spellings, sizes, and problems that name the key and line. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { checkAuditOutput } from '../../src/audit/audit-log.js';
import { ConfigError } from '../../src/core/errors.js';
import { restartOnlyChanges } from '../../src/server/config-reload.js';
import { load, problemsOf, SECRET, where, yamlLines } from '../config/config-problems.js';

const head = ['kestra:', `  encryption: { secret-key: "${SECRET}" }`, 'authz:'];

describe('authz.audit', () => {
  test('off by default, with the documented defaults', () => {
    assert.deepEqual(load(yamlLines(...head, '  log: { level: info }')).audit, {
      enabled: false, output: 'stdout', maxSizeBytes: 100_000_000, maxFiles: 5, sampleAllows: 0.01, sampleDenies: 1, bufferLines: 10_000,
    });
  });

  test('every key, kebab-case and camelCase; a relative file beside the config; sizes in decimal and binary units', () => {
    const kebab = load(yamlLines(...head,
      '  audit:', '    enabled: true', '    output: logs/audit.jsonl', '    max-size: 512KiB', '    max-files: 2',
      '    sample-allows: 0.5', '    sample-denies: 1', '    buffer-lines: 100')).audit;
    assert.deepEqual(kebab, { enabled: true, output: '/srv/authz/logs/audit.jsonl', maxSizeBytes: 524_288, maxFiles: 2, sampleAllows: 0.5, sampleDenies: 1, bufferLines: 100 });
    const camel = load(yamlLines(...head, '  audit: { enabled: true, output: stdout, maxSize: 10MB, sampleAllows: "0", bufferLines: 1 }')).audit;
    assert.equal(camel.output, 'stdout');
    assert.equal(camel.maxSizeBytes, 10_000_000);
    assert.equal(camel.sampleAllows, 0);
    assert.equal(camel.bufferLines, 1);
    assert.equal(load(yamlLines(...head, '  audit: { max-size: 2048 }')).audit.maxSizeBytes, 2048);
  });

  test('bad values are refused up front, naming the key and the line', () => {
    const problems = problemsOf(yamlLines(...head,
      '  audit:', '    max-size: 12 parsecs', '    max-files: 0', '    sample-allows: 1.5', '    sample-denies: lots', '    buffer-lines: 0', '    output: ""', '    rotate: daily'));
    const keys = where(problems).map(([key]) => key);
    for (const key of ['authz.audit.max-size', 'authz.audit.max-files', 'authz.audit.sample-allows', 'authz.audit.sample-denies', 'authz.audit.buffer-lines', 'authz.audit.output']) {
      assert.ok(keys.includes(key), `${key} in ${keys.join(', ')}`);
    }
    assert.ok(keys.some((k) => k.startsWith('authz.audit')) && problems.some((p) => /rotate/.test(`${p.key} ${p.message}`)), 'the unknown key is named');
    assert.ok(problems.every((p) => p.line !== undefined), 'each problem has its line');
    assert.match(problems.find((p) => p.key === 'authz.audit.max-size')!.message, /100MB/);
    assert.deepEqual(where(problemsOf(yamlLines(...head, '  audit: { max-size: 100 }'))), [['authz.audit.max-size', 4]]);
  });

  test('a change of authz.audit is reported as needing a restart (the writer is opened once)', () => {
    const before = load(yamlLines(...head, '  audit: { enabled: false }'));
    const after = load(yamlLines(...head, '  audit: { enabled: true, sample-allows: 1 }'));
    assert.deepEqual(restartOnlyChanges(before, after), ['authz.audit']);
    assert.deepEqual(restartOnlyChanges(before, load(yamlLines(...head, '  audit: { enabled: false }'))), []);
  });

  test('a file output in a missing folder stops the start with a config error naming the key', async () => {
    const audit = load(yamlLines(...head, '  audit: { enabled: true, output: /nonexistent-kauthz/audit.jsonl }')).audit;
    await assert.rejects(checkAuditOutput(audit, 'test.yaml'), (err: unknown) => err instanceof ConfigError && /authz\.audit\.output: the folder \/nonexistent-kauthz does not exist/.test(err.message));
    await checkAuditOutput({ ...audit, output: 'stdout' }, 'test.yaml');
    await checkAuditOutput({ ...audit, enabled: false }, 'test.yaml');
  });
});
