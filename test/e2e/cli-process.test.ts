/**
 * The CLI as an operator runs it: a real `kestra-authz` process.
 * - `serve` on the embedded default answers health checks and stops on SIGTERM;
 * - a bad config exits non-zero listing every problem;
 * - `config check` masks secrets; `explain` prints the steps.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createAuthzClient } from '../helpers/grpc-client.js';
import { freePort } from '../helpers/free-port.js';
import { becomesReady, exitCodeAfterSigterm } from '../helpers/serve-process.js';

const BIN = fileURLToPath(new URL('../../../bin/kestra-authz.js', import.meta.url));

function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

test('serve with a config: healthy over gRPC and /readyz, exits 0 on SIGTERM', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kauthz-cli-'));
  const [grpcPort, httpPort, mgmtPort] = [await freePort(), await freePort(), await freePort()];
  const configPath = join(dir, 'config.yaml');
  await writeFile(configPath, `
kestra:
  encryption: { secret-key: "\${TEST_SECRET}" }
authz:
  listen: { grpc: "127.0.0.1:${grpcPort}", http: "127.0.0.1:${httpPort}", management: "127.0.0.1:${mgmtPort}" }
  users: { file: ${join(dir, 'users.yaml')} }
`);
  const child = spawn(process.execPath, [BIN, 'serve', '--config', configPath], {
    env: { ...process.env, TEST_SECRET: 'x'.repeat(40) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
  try {
    assert.ok(await becomesReady(mgmtPort), `server did not become ready:\n${out}`);
    const client = createAuthzClient(grpcPort);
    assert.equal(await client.health(''), 'SERVING');
    client.close();
    assert.ok(out.includes('kestra-authz ready'));
    assert.ok(!out.includes('x'.repeat(40)), 'the secret must never be logged');
  } finally {
    assert.equal(await exitCodeAfterSigterm(child), 0);
    await rm(dir, { recursive: true, force: true });
  }
});

test('a bad config exits non-zero and lists every problem with its line', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kauthz-cli-'));
  const configPath = join(dir, 'bad.yaml');
  await writeFile(configPath, [
    'kestra:',
    '  encryption:',
    '    secret-key: short',
    'authz:',
    '  no-such-key: 1',
    '  default: maybe',
    '  rules:',
    '    - { match: { path: "/x" }, allow: public, require: "FLOW:READ" }',
    '',
  ].join('\n'));
  for (const args of [['serve', '--config', configPath], ['config', 'check', '--config', configPath]]) {
    const { code, stderr } = await run(args);
    assert.notEqual(code, 0);
    assert.match(stderr, /bad\.yaml:3: kestra\.encryption\.secret-key/);
    assert.match(stderr, /bad\.yaml:5: authz\.no-such-key/);
    assert.match(stderr, /bad\.yaml:6: authz\.default/);
    assert.match(stderr, /bad\.yaml:8: authz\.rules/);
  }
  await rm(dir, { recursive: true, force: true });
});

test('config check masks secrets; explain prints the steps and the verdict', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kauthz-cli-'));
  const configPath = join(dir, 'config.yaml');
  const secret = 'super-secret-value-that-is-long-enough-123';
  await writeFile(configPath, `
kestra:
  encryption: { secret-key: "${secret}" }
  security:
    default-role: { name: viewer, permissions: { FLOW: [READ] } }
authz:
  users: { file: ${join(dir, 'users.yaml')} }
  rules:
    - { id: everything, match: { path: "/**" }, allow: authenticated }
    - { id: never, match: { path: "/reports/**" }, allow: public }
`);
  const checked = await run(['config', 'check', '--config', configPath]);
  assert.equal(checked.code, 0, checked.stderr);
  assert.ok(!checked.stdout.includes(secret));
  assert.match(checked.stdout, /\*\*\*/);
  assert.match(checked.stderr, /never/);

  assert.equal((await run(['auths', 'users', 'create', '--config', configPath, 'bob', 'bob-password-1'])).code, 0);
  const basic = `Basic ${Buffer.from('bob:bob-password-1').toString('base64')}`;
  const explained = await run(['explain', '--config', configPath, '--method', 'GET', '--path', '/api/v1/main/flows/prod/hello', '--header', `authorization: ${basic}`]);
  assert.match(explained.stdout, /route/);
  assert.match(explained.stdout, /authenticate/);
  assert.match(explained.stdout, /verdict: ALLOW 200/);
  assert.ok(!explained.stdout.includes('bob-password-1'));
  const anonymous = await run(['explain', '--config', configPath, '--path', '/api/v1/main/flows/prod/hello']);
  assert.match(anonymous.stdout, /verdict: DENY 401 no_credentials/);
  await rm(dir, { recursive: true, force: true });
});
