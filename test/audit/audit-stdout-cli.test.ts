/**
 * `output: stdout` through the real CLI process (`kestra-authz serve`):
 * audit lines share stdout with the service's own JSON log, every stdout
 * line stays one whole JSON document (no log line spliced into an audit
 * line), the audit lines carry `"event":"authz.decision"`, and the lines of
 * the last decisions are written before the process exits on SIGTERM.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { createUsersWithCli } from '../helpers/cli-users.js';
import { envoyCheckRequest } from '../helpers/envoy-check-request.js';
import { freePort } from '../helpers/free-port.js';
import { createAuthzClient } from '../helpers/grpc-client.js';
import { auditConfigYaml, OPS_PASSWORD } from './audit-fixture.js';
import { becomesReady } from '../helpers/serve-process.js';

const BIN = fileURLToPath(new URL('../../../bin/kestra-authz.js', import.meta.url));
const API = { accept: 'application/json' };
const REQUESTS = 40;

test('serve with output: stdout: audit lines beside the log, each line whole JSON, all written by the exit', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kauthz-audit-stdout-'));
  const [grpcPort, httpPort, mgmtPort] = [await freePort(), await freePort(), await freePort()];
  const configPath = join(dir, 'config.yaml');
  const tree = parse(auditConfigYaml(dir, 'https://issuer.invalid', { enabled: true, output: 'stdout', 'sample-allows': 1 })) as { authz: Record<string, unknown> };
  tree.authz.listen = { grpc: `127.0.0.1:${grpcPort}`, http: `127.0.0.1:${httpPort}`, management: `127.0.0.1:${mgmtPort}` };
  // Denials are logged at info too: the service's log lines and the audit lines share the pipe.
  tree.authz.log = { level: 'info' };
  await writeFile(configPath, stringify(tree));
  await writeFile(join(dir, 'users.yaml'), 'users: []\n', { mode: 0o600 });
  await createUsersWithCli(configPath, ['--username', 'ops', '--password', OPS_PASSWORD, '--groups', 'kestra-devs']);
  const child = spawn(process.execPath, [BIN, 'serve', '--config', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  try {
    assert.ok(await becomesReady(mgmtPort), `server did not become ready:\n${out}`);
    const client = createAuthzClient(grpcPort);
    const basic = `Basic ${Buffer.from(`ops:${OPS_PASSWORD}`).toString('base64')}`;
    for (let i = 0; i < REQUESTS; i++) {
      const headers = i % 2 === 0 ? { ...API, authorization: basic, 'x-request-id': `s-${i}` } : { ...API, 'x-request-id': `s-${i}` };
      await client.check(envoyCheckRequest({ method: 'GET', path: `/api/v1/main/flows/company.team/f?page=${i}`, headers }));
    }
    client.close();
    child.kill('SIGTERM');
    assert.equal(await exited, 0, out);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
  const lines = out.split('\n').filter((l) => l.trim() !== '');
  const parsed = lines.map((l) => {
    try {
      return JSON.parse(l) as Record<string, unknown>;
    } catch {
      return assert.fail(`not one whole JSON line: ${l.slice(0, 200)}`);
    }
  });
  const audit = parsed.filter((l) => l.event === 'authz.decision');
  assert.deepEqual(audit.map((l) => l.requestId), Array.from({ length: REQUESTS }, (_, i) => `s-${i}`));
  assert.ok(audit.every((l) => (l.status === 200) === (Number(String(l.requestId).slice(2)) % 2 === 0)));
  assert.ok(parsed.some((l) => l.msg === 'deny'), 'the service log shares the stream');
  assert.ok(!out.includes(OPS_PASSWORD) && !out.includes('page='), 'no password or query string on stdout');
});
