/**
 * `kestra-authz serve` as a real process with a shadow policy file: its
 * disagreements show on /metrics, an edit of the shadow file alone reloads
 * (the watcher follows it), and when a reload points `authz.shadow` at
 * another file, edits of that one reload too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createAuthzClient } from '../helpers/grpc-client.js';
import { envoyCheckRequest } from '../helpers/envoy-check-request.js';
import { freePort } from '../helpers/free-port.js';
import { pollUntil } from '../helpers/poll.js';
import { becomesReady, exitCodeAfterSigterm } from '../helpers/serve-process.js';
import { seriesSum } from '../helpers/scraped-metrics.js';

const BIN = fileURLToPath(new URL('../../../bin/kestra-authz.js', import.meta.url));

const policy = (probe: 'public' | 'deny') => `
authz:
  rules:
    - { id: probe, match: { path: "/probe" }, allow: ${probe} }
`;

test('serve: a shadow file is watched and followed across reloads', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kauthz-shadow-serve-'));
  await mkdir(join(dir, 'policies'));
  const [grpcPort, httpPort, mgmtPort] = [await freePort(), await freePort(), await freePort()];
  const configPath = join(dir, 'config.yaml');
  const main = (shadow: string) => `
kestra:
  encryption: { secret-key: "shadow-serve-secret-0123456789abcdef" }
authz:
  listen: { grpc: "127.0.0.1:${grpcPort}", http: "127.0.0.1:${httpPort}", management: "127.0.0.1:${mgmtPort}" }
  users: { file: ${join(dir, 'users.yaml')} }
  shadow: ${shadow}
  rules:
    - { id: probe, match: { path: "/probe" }, allow: public }
`;
  await writeFile(join(dir, 'policies', 'next.yaml'), policy('deny'));
  await writeFile(join(dir, 'policies', 'other.yaml'), policy('public'));
  await writeFile(configPath, main('policies/next.yaml'));
  const child = spawn(process.execPath, [BIN, 'serve', '--config', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
  const client = createAuthzClient(grpcPort);
  const scrape = async (): Promise<string> => (await fetch(`http://127.0.0.1:${mgmtPort}/metrics`)).text();
  const outcome = (text: string, name: string): number => seriesSum(text, 'kestra_authz_shadow_evaluations_total', new RegExp(`outcome="${name}"`));
  const compared = (text: string): number => outcome(text, 'agree') + outcome(text, 'disagree');
  /** Sends /probe (allowed live) until the shadow counts one as `wanted`. */
  const shadowSays = async (wanted: 'agree' | 'disagree'): Promise<boolean> => pollUntil(async () => {
    const before = await scrape();
    const res = await client.check(envoyCheckRequest({ path: '/probe', headers: { accept: 'application/json' } }));
    assert.ok(res.ok_response, 'the live answer never changes');
    const after = await pollUntil(scrape, (t) => compared(t) > compared(before), { timeoutMs: 10_000 });
    return outcome(after, wanted) > outcome(before, wanted);
  }, (ok) => ok);
  const otherPath = join(dir, 'policies', 'other.yaml');
  try {
    assert.ok(await becomesReady(mgmtPort, 30_000), `not ready:\n${out}`);
    assert.ok(await shadowSays('disagree'), `the shadow file's deny is not a disagreement:\n${out}`);
    const text = await scrape();
    assert.ok(seriesSum(text, 'kestra_authz_shadow_disagreements_total', /live="allow",shadow="403",rule="probe"/) >= 1);

    // The shadow file alone changes: the watcher reloads.
    await writeFile(join(dir, 'policies', 'next.yaml'), policy('public'));
    assert.ok(await shadowSays('agree'), `an edit of the shadow file did not reload:\n${out}`);

    // The main file points at another shadow: its edits reload from then on.
    await writeFile(configPath, main('policies/other.yaml'));
    const reloadedTo = `"shadow":${JSON.stringify(otherPath)}`;
    assert.ok((await pollUntil(async () => out, (o) => o.includes(reloadedTo))).includes(reloadedTo), `no reload named ${otherPath}:\n${out}`);
    await writeFile(otherPath, policy('deny'));
    assert.ok(await shadowSays('disagree'), `an edit of the new shadow file did not reload:\n${out}`);
  } finally {
    client.close();
    assert.equal(await exitCodeAfterSigterm(child), 0);
    await rm(dir, { recursive: true, force: true });
  }
});
