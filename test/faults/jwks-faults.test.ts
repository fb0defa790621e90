/**
 * A JWKS endpoint misbehaving under the running service, everything real:
 * the service (startService) asked over gRPC Check, a node:http JWKS server
 * on 127.0.0.1 switched between modes — ok, slow past `jwks-timeout`, HTTP
 * 500, a garbage body — and keys rotated while Checks stream in.
 *
 * What must hold: no fault ever gives an allow to a token whose key is not
 * held; keys already held keep working; the service recovers by itself once
 * the endpoint is healthy again; `jwks_fetch_total{result}` and
 * `decisions_total{reason}` show it; an unknown kid costs at most one fetch
 * per cooldown, never one per request.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startJwksServer, type JwksServer } from '../authn-bearer/jwks-server.js';
import { bearerServiceYaml } from '../helpers/bearer-service-config.js';
import { headerOf, type CheckResponseJs } from '../helpers/grpc-client.js';
import { expectAllowed, expectDenied, startGrpcDoor, type GrpcDoor } from '../helpers/grpc-door.js';
import { pollUntil } from '../helpers/poll.js';
import { metricValue } from '../helpers/metric-value.js';

const FLOW = '/api/v1/main/flows/company.team/hello';
const COOLDOWN_MS = 1000;

async function startService(dir: string, server: JwksServer): Promise<GrpcDoor> {
  const configPath = join(dir, 'config.yaml');
  await writeFile(configPath, bearerServiceYaml({
    dir,
    issuer: server.issuer,
    issuerEntry: { 'jwks-uri': server.jwksUri },
    bearer: { 'jwks-timeout': '1s', 'jwks-cooldown': '1s', 'jwks-max-age': '1h' },
  }));
  return startGrpcDoor(configPath);
}

const errorOf = (res: CheckResponseJs, status: number) => (JSON.parse(expectDenied(res, status).body ?? '{}') as { error?: string }).error;

const until = pollUntil;

describe('JWKS endpoint faults under a running service', () => {
  let dir: string;
  let server: JwksServer;
  let door: GrpcDoor;
  let serial = 0;

  const token = (kid: string) => server.sign({
    iss: server.issuer, aud: 'kestra', sub: `u-${++serial}`, preferred_username: 'dev',
    exp: Math.floor(Date.now() / 1000) + 600, resource_access: { kestra: { roles: ['kestra-devs'] } },
  }, kid);
  const check = async (kid: string) => door.check({ path: FLOW, headers: { authorization: `Bearer ${await token(kid)}`, accept: 'application/json' } });
  const fetches = (result: string) => metricValue('kestra_authz_jwks_fetch_total', { issuer: server.issuer, result });
  const decisions = (reason: string) => metricValue('kestra_authz_decisions_total', { result: 'deny', reason, mode: 'grpc' });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kauthz-jwks-faults-'));
    server = await startJwksServer();
    await server.addKey('k1');
    door = await startService(dir, server);
    // The start-up fetch runs in the background: wait for the first key.
    expectAllowed(await until(() => check('k1'), (r) => (r.status?.code ?? 0) === 0));
  });
  after(async () => {
    await door?.close();
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const FAULTS = [
    { mode: 'slow (no answer within jwks-timeout)', result: 'timeout', apply: () => { server.silent = true; } },
    { mode: 'HTTP 500', result: 'error', apply: () => { server.jwksStatus = 500; server.jwksBody = '{"error":"boom"}'; } },
    { mode: 'garbage body', result: 'invalid', apply: () => { server.jwksBody = '<html>not a key set</html>'; } },
  ] as const;

  for (const [i, fault] of FAULTS.entries()) {
    test(`${fault.mode}: unknown key denied (never allowed), held key still works, metrics move, recovery by itself`, async () => {
      const kid = `rotated-${i}`;
      await server.addKey(kid); // published by the server, but the server is about to misbehave
      fault.apply();
      const failedBefore = await fetches(fault.result);
      const unknownBefore = await decisions('token_unknown_kid');
      await sleep(COOLDOWN_MS); // let the cooldown pass so the unknown kid really triggers a fetch

      const refused = await check(kid);
      assert.equal(errorOf(refused, 401), 'token_unknown_kid', 'a key we could not fetch is never trusted');
      assert.equal(await fetches(fault.result), failedBefore + 1, `jwks_fetch_total{result="${fault.result}"} counted`);
      assert.ok(await decisions('token_unknown_kid') > unknownBefore);
      for (let n = 0; n < 5; n++) errorOf(await check(kid), 401);
      expectAllowed(await check('k1')); // keys already held keep verifying during the fault

      // The endpoint heals: the next fetch the cooldown allows picks the key up; no restart.
      server.silent = false;
      server.jwksStatus = 200;
      server.jwksBody = undefined;
      const okBefore = await fetches('ok');
      expectAllowed(await until(() => check(kid), (r) => (r.status?.code ?? 0) === 0));
      assert.ok(await fetches('ok') > okBefore);
    });
  }

  test('key rotation while Checks stream in: no request fails, new-key tokens pass after one refetch, fetches stay bounded', async () => {
    await server.addKey('next', 'RS256', { publish: false });
    await sleep(COOLDOWN_MS);
    let stop = false;
    const outcomes = { allowed: 0, other: [] as string[] };
    // Old-key traffic: fresh tokens (no token-cache shortcut), four at a time, until told to stop.
    const workers = Array.from({ length: 4 }, async () => {
      while (!stop) {
        const res = await check('k1');
        if ((res.status?.code ?? 0) === 0) outcomes.allowed++;
        else outcomes.other.push(JSON.stringify(res.denied_response?.body));
      }
    });
    await until(async () => outcomes.allowed, (n) => n >= 20);
    const jwksBefore = server.requests.jwks;
    server.publish('next', true); // the IdP rotates: the new key joins the set
    // A burst of distinct new-key tokens at once: the first unknown kid refetches, the rest join that fetch.
    const burst = await Promise.all(Array.from({ length: 30 }, () => check('next')));
    for (const res of burst) expectAllowed(res);
    for (let n = 0; n < 30; n++) expectAllowed(await check('next'));
    const oldKeyChecksDuringRotation = outcomes.allowed;
    await until(async () => outcomes.allowed, (n) => n >= oldKeyChecksDuringRotation + 20);
    stop = true;
    await Promise.all(workers);
    assert.deepEqual(outcomes.other, [], 'no old-key request was refused or failed during the rotation');
    const fetched = server.requests.jwks - jwksBefore;
    assert.ok(fetched >= 1 && fetched <= 1, `one refetch for the new kid, not one per request (got ${fetched} for ${60 + outcomes.allowed} Checks)`);
  });
});

describe('JWKS endpoint down from the start', () => {
  let dir: string;
  let server: JwksServer;
  let door: GrpcDoor;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kauthz-jwks-down-'));
    server = await startJwksServer();
    await server.addKey('k1');
    server.jwksStatus = 503;
    door = await startService(dir, server);
  });
  after(async () => {
    await door?.close();
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('no key ever fetched → 503 jwks_unavailable with Retry-After, never an allow; heals without a restart', async () => {
    const token = () => server.sign({ iss: server.issuer, aud: 'kestra', sub: 'u-1', exp: Math.floor(Date.now() / 1000) + 600 }, 'k1');
    const ask = async () => door.check({ path: FLOW, headers: { authorization: `Bearer ${await token()}`, accept: 'application/json' } });
    const before = await metricValue('kestra_authz_decisions_total', { reason: 'jwks_unavailable', mode: 'grpc' });
    for (let i = 0; i < 3; i++) {
      const res = await ask();
      assert.equal(errorOf(res, 503), 'jwks_unavailable');
      assert.ok(headerOf(res.denied_response?.headers, 'retry-after'), 'Retry-After tells the client to come back');
    }
    assert.ok((await metricValue('kestra_authz_decisions_total', { reason: 'jwks_unavailable', mode: 'grpc' })) >= before + 3);
    assert.ok((await metricValue('kestra_authz_jwks_fetch_total', { issuer: server.issuer, result: 'error' })) >= 1);
    assert.equal(await metricValue('kestra_authz_jwks_keys', { issuer: server.issuer }), 0);
    server.jwksStatus = 200;
    expectAllowed(await until(ask, (r) => (r.status?.code ?? 0) === 0));
    assert.equal(await metricValue('kestra_authz_jwks_keys', { issuer: server.issuer }), 1);
  });
});
