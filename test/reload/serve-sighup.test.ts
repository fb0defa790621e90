/**
 * `kestra-authz serve --config FILE` as a real process: SIGHUP reloads a
 * valid change, rejects an invalid one (logged, old config serving, process
 * up), and a file change alone reloads too.
 * The config path is a symlink to a file in another directory: edits to that
 * target are not watched, so they can only apply through SIGHUP (proving the
 * signal alone works); re-pointing the symlink is a change in the watched
 * directory (proving the watcher works).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createAuthzClient } from '../helpers/grpc-client.js';
import { envoyCheckRequest } from '../helpers/envoy-check-request.js';
import { eventually, INVALID_YAML } from './reload-fixture.js';
import { freePort } from '../helpers/free-port.js';
import { exitCodeAfterSigterm } from '../helpers/serve-process.js';

const BIN = fileURLToPath(new URL('../../../bin/kestra-authz.js', import.meta.url));

test('serve: SIGHUP swaps a valid config, rejects an invalid one; a file change reloads', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kauthz-sighup-'));
  const [grpcPort, httpPort, mgmtPort] = [await freePort(), await freePort(), await freePort()];
  const configPath = join(dir, 'etc', 'config.yaml');
  const target = join(dir, 'versions', 'v1.yaml');
  await mkdir(join(dir, 'etc'));
  await mkdir(join(dir, 'versions'));
  const yaml = (probe: 'public' | 'deny') => `
kestra:
  encryption: { secret-key: "\${TEST_SECRET}" }
authz:
  listen: { grpc: "127.0.0.1:${grpcPort}", http: "127.0.0.1:${httpPort}", management: "127.0.0.1:${mgmtPort}" }
  users: { file: ${join(dir, 'users.yaml')} }
  rules:
    - { id: probe, match: { path: "/probe" }, allow: ${probe} }
`;
  await writeFile(target, yaml('public'));
  await symlink(target, configPath);
  const secret = 'z'.repeat(40);
  const child = spawn(process.execPath, [BIN, 'serve', '--config', configPath], {
    env: { ...process.env, TEST_SECRET: secret },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
  const client = createAuthzClient(grpcPort);
  const probe = async (): Promise<'allow' | number> => {
    const res = await client.check(envoyCheckRequest({ path: '/probe', headers: { accept: 'application/json' } }));
    return res.ok_response && (res.status?.code ?? 0) === 0 ? 'allow' : res.denied_response?.status?.code ?? -1;
  };
  const reloads = async (result: string): Promise<number> => {
    const text = await (await fetch(`http://127.0.0.1:${mgmtPort}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`kestra_authz_config_reloads_total{result="${result}"} `));
    return line ? Number(line.split(' ')[1]) : 0;
  };
  try {
    assert.ok(await eventually(() => fetch(`http://127.0.0.1:${mgmtPort}/readyz`).then((r) => r.ok, () => false), 400), `not ready:\n${out}`);
    assert.equal(await probe(), 'allow');
    const started = await reloads('success');

    await writeFile(target, yaml('deny'));
    child.kill('SIGHUP');
    assert.ok(await eventually(async () => (await probe()) === 403), `SIGHUP did not apply:\n${out}`);
    assert.ok(await eventually(async () => (await reloads('success')) > started));

    await writeFile(target, INVALID_YAML);
    child.kill('SIGHUP');
    assert.ok(await eventually(async () => (await reloads('failure')) >= 1), `no failed reload counted:\n${out}`);
    assert.ok(await eventually(() => out.includes('config reload rejected')));
    assert.equal(await probe(), 403, 'the last good config keeps serving');
    assert.equal(child.exitCode, null, 'the process stays up');
    assert.ok(!out.includes('config file changed'), 'the edits above reached the server through SIGHUP only');

    const v2 = join(dir, 'versions', 'v2.yaml');
    await writeFile(v2, yaml('public'));
    await symlink(v2, join(dir, 'etc', '.config.yaml.new'));
    await rename(join(dir, 'etc', '.config.yaml.new'), configPath);
    assert.ok(await eventually(async () => (await probe()) === 'allow'), `file change did not apply:\n${out}`);
    assert.ok(!out.includes(secret), 'the secret is never logged');
    assert.ok(!out.includes('short-but-secret-VALUE'), 'a rejected secret is never logged');
  } finally {
    client.close();
    assert.equal(await exitCodeAfterSigterm(child), 0);
    await rm(dir, { recursive: true, force: true });
  }
});
