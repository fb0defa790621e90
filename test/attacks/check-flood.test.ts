/**
 * A flood of large CheckRequests against the service as it ships (its own
 * process, `npm start`'s heap cap): every one a 3.9 MB request (the gRPC
 * message limit is 4 MiB) whose token needs a key fetch that hangs, so all
 * of them wait at once. Decoded, a hundred of them are ~390 MB of strings:
 * before the in-flight budget this killed the process (V8 heap out of
 * memory). Now the door holds at most 32 MiB decoded and answers the rest
 * 503 `overloaded` at once; nothing is allowed, the process stays up, the
 * budget is given back in full, and the refusals show in the metrics.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { shippedNodeFlags } from '../../bench/shipped-node-flags.js';
import { GRPC_IN_FLIGHT_BYTES } from '../../src/server/grpc-door.js';
import { startJwksServer, type JwksServer } from '../authn-bearer/jwks-server.js';
import { bearerServiceYaml } from '../helpers/bearer-service-config.js';
import { envoyCheckRequest } from '../helpers/envoy-check-request.js';
import { freePort } from '../helpers/free-port.js';
import { createAuthzClient, type AuthzClient, type CheckResponseJs } from '../helpers/grpc-client.js';
import { scrapeMetrics, seriesSum } from '../helpers/scraped-metrics.js';
import { eventually } from '../reload/reload-fixture.js';

const BIN = fileURLToPath(new URL('../../../bin/kestra-authz.js', import.meta.url));
const JUNK_BYTES = 3_900_000;
/** As many large requests as fit in the budget at once (8 × 3.9 MB = 31.2 MB of 32 MiB). */
const FIT = Math.floor(GRPC_IN_FLIGHT_BYTES / (JUNK_BYTES + 2_000));
const FLOOD = 100;
const JUNK = 'x'.repeat(JUNK_BYTES);

describe('a flood of large CheckRequests under the shipped heap cap', () => {
  let dir: string;
  let jwks: JwksServer;
  let child: ChildProcess;
  let output = '';
  let client: AuthzClient;
  let managementPort: number;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kauthz-flood-'));
    jwks = await startJwksServer();
    await jwks.addKey('known');
    await jwks.addKey('unpublished', 'RS256', { publish: false });
    const [grpcPort, httpPort] = [await freePort(), await freePort()];
    managementPort = await freePort();
    const config = parse(bearerServiceYaml({
      dir,
      issuer: jwks.issuer,
      // Every unknown kid asks the JWKS again (no cooldown), and a hanging fetch gives up after 3 s.
      bearer: { 'jwks-cooldown': '0s', 'jwks-timeout': '3s' },
      issuerEntry: { 'jwks-uri': jwks.jwksUri },
    })) as { authz: { listen: Record<string, string> } };
    // Another process binds them: fixed free ports instead of 0.
    config.authz.listen = { grpc: `127.0.0.1:${grpcPort}`, http: `127.0.0.1:${httpPort}`, management: `127.0.0.1:${managementPort}` };
    await writeFile(join(dir, 'config.yaml'), stringify(config));
    // One process: the in-flight budget and the heap cap under test are per process (a worker group has them per worker).
    child = spawn(process.execPath, [...shippedNodeFlags(), BIN, 'serve', '--config', join(dir, 'config.yaml'), '--workers', '1'], {
      env: { ...process.env, NODE_OPTIONS: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d: Buffer) => { output += d.toString(); });
    child.stderr!.on('data', (d: Buffer) => { output += d.toString(); });
    assert.ok(await eventually(() => fetch(`http://127.0.0.1:${managementPort}/readyz`).then((r) => r.ok, () => false), 400), `not ready:\n${output}`);
    client = createAuthzClient(grpcPort);
  });

  after(async () => {
    client?.close();
    child?.kill();
    jwks.silent = false;
    await jwks?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const token = (kid: string, sub: string) => jwks.sign({ iss: jwks.issuer, aud: 'kestra', sub, exp: Math.floor(Date.now() / 1000) + 600 }, kid);
  const largeCheck = (bearer: string) =>
    envoyCheckRequest({ path: '/api/v1/main/flows/company.team', headers: { authorization: `Bearer ${bearer}`, 'x-junk': JUNK, accept: 'application/json' } });
  const deniedStatus = (res: CheckResponseJs) => (res.ok_response ? 'allowed' : res.denied_response?.status?.code);
  const reasonOf = (res: CheckResponseJs) => (JSON.parse(res.denied_response?.body ?? '{}') as { error?: string }).error;

  /** Large requests whose key fetch hangs: they all wait together, until the fetch times out. */
  async function waitingFlood(count: number): Promise<CheckResponseJs[]> {
    const tokens = await Promise.all(Array.from({ length: count }, (_, i) => token('unpublished', `flood-${i}`)));
    jwks.silent = true;
    try {
      return await Promise.all(tokens.map((t) => client.check(largeCheck(t))));
    } finally {
      jwks.silent = false;
    }
  }

  const overloadedCount = async () =>
    seriesSum(await scrapeMetrics(managementPort), 'kestra_authz_decisions_total', /(?=.*reason="overloaded")(?=.*mode="grpc")/);

  test('past the budget: 503 overloaded at once, the rest denied after the fetch fails; nothing allowed, process up', async () => {
    assert.ok(FIT >= 2 && FIT < FLOOD, `the flood (${FLOOD}) overflows a budget that fits ${FIT}`);
    const answers = await waitingFlood(FLOOD);
    assert.equal(answers.filter((a) => a.ok_response).length, 0, 'no large request was allowed');
    const overloaded = answers.filter((a) => deniedStatus(a) === 503 && reasonOf(a) === 'overloaded').length;
    assert.ok(overloaded >= FLOOD - FIT, `${overloaded} overloaded answers, at least ${FLOOD - FIT} expected`);
    for (const a of answers) assert.ok([401, 503].includes(deniedStatus(a) as number), `denied 401/503, got ${JSON.stringify(a.denied_response?.status)}`);
    assert.equal(child.exitCode, null, `the process is still up:\n${output.slice(-2000)}`);
    assert.equal(await overloadedCount(), overloaded, 'each overloaded answer is counted');
  });

  test('afterwards: a normal request is allowed and the whole budget is free again', async () => {
    const ok = await client.check(envoyCheckRequest({ path: '/api/v1/main/flows/company.team', headers: { authorization: `Bearer ${await token('known', 'after-flood')}` } }));
    assert.equal(deniedStatus(ok), 'allowed');
    // As many waiting large requests as the budget holds: one byte left taken would refuse the last.
    const answers = await waitingFlood(FIT);
    assert.deepEqual(answers.map(reasonOf).filter((r) => r === 'overloaded'), [], 'none refused for lack of budget');
    assert.equal(child.exitCode, null);
  });
});
