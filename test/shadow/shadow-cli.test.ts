/**
 * `kestra-authz config check` (the real CLI process) on a config with a
 * shadow policy: both files validated, the shadow named, a bad shadow file
 * an error naming it (exit 1).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../../bin/kestra-authz.js', import.meta.url));

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const MAIN = `
kestra:
  encryption: { secret-key: "0123456789abcdef0123456789abcdef-cli" }
authz:
  shadow: next/policy.yaml
  rules:
    - id: close-exports
      match: { path: /exports/** }
      allow: deny
      shadow: true
`;

describe('config check with a shadow policy', () => {
  let dir: string;
  let configPath: string;
  let shadowPath: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kauthz-shadow-cli-'));
    configPath = join(dir, 'config.yaml');
    shadowPath = join(dir, 'next', 'policy.yaml');
    await writeFile(configPath, MAIN);
    await mkdir(join(dir, 'next'));
  });

  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('valid: names the shadow file and its rules; unreachable shadow rules are warned about', async () => {
    await writeFile(shadowPath, 'authz:\n  rules:\n    - { match: { path: /exports/public/** }, allow: public }\n');
    const { code, stdout, stderr } = await run(['config', 'check', '--config', configPath]);
    assert.equal(code, 0, stderr);
    assert.match(stdout, new RegExp(`# shadow policy: ${shadowPath.replace(/[.]/g, '\\.')} \\(valid\\), shadow rules close-exports`));
    // The shadow rule goes first: the shadow file's narrower rule after it can never match.
    assert.match(stderr, /warning: shadow policy: .*rule\[0\]/);
    assert.doesNotMatch(stdout, /0123456789abcdef0123456789abcdef-cli/);
  });

  test('a bad shadow file fails the check, naming it and the line', async () => {
    await writeFile(shadowPath, 'authz:\n  rules:\n    - match: { path: /x }\n      allow: sometimes\n');
    const { code, stderr } = await run(['config', 'check', '--config', configPath]);
    assert.equal(code, 1);
    assert.match(stderr, new RegExp(`${shadowPath.replace(/[.]/g, '\\.')}:4: authz\\.rules\\[0\\]\\.allow`));
  });
});
