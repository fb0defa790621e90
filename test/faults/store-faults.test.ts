/**
 * Stores going away under the running service, through a TCP relay the test
 * cuts (tcp-cut-proxy.ts) so the shared Redis / PostgreSQL keep running:
 *
 * - Redis sessions: a user logged in with a session cookie is refused 503
 *   `store_unavailable` while Redis is unreachable — never allowed, never
 *   taken for anonymous; /readyz names `sessions`; store errors are counted;
 *   when the relay resumes the service reconnects and the same cookie works.
 * - PostgreSQL users: Basic requests get 503 `store_unavailable`; /readyz
 *   names `users` and gRPC health goes NOT_SERVING; recovery is automatic.
 *
 * Waits are bounded polls, never assertions on time.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { createUsersWithCli } from '../helpers/cli-users.js';
import { expectAllowed, expectDenied, startGrpcDoor, type GrpcDoor } from '../helpers/grpc-door.js';
import { startOidcIdp, type OidcIdp } from '../helpers/oidc-idp.js';
import { CLIENT, EXTERNAL, login, redisSkipReason, startReplica, testPrefix, deleteKeys, inspector, whoAmI, type Replica } from '../sessions-redis/redis-fixture.js';
import { dropSchema, newSchemaName, PG_HOST, PG_PORT, postgresSkipReason, storeUrl } from '../users-postgres/pg-fixture.js';
import { pollUntil } from '../helpers/poll.js';
import { scrapeMetrics, seriesSum } from '../helpers/scraped-metrics.js';
import { startTcpCutProxy, type TcpCutProxy } from './tcp-cut-proxy.js';

const until = pollUntil;

async function readyz(managementPort: number): Promise<{ status: number; body: string }> {
  try {
    const res = await fetch(`http://127.0.0.1:${managementPort}/readyz`);
    return { status: res.status, body: await res.text() };
  } catch {
    return { status: 0, body: '' };
  }
}

const redisSkip = await redisSkipReason();

describe('Redis sessions unreachable (relay cut)', { skip: redisSkip }, () => {
  const prefix = testPrefix();
  let dir: string;
  let idp: OidcIdp;
  let relay: TcpCutProxy;
  let replica: Replica;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kauthz-redis-cut-'));
    idp = await startOidcIdp({ name: 'opcut', clients: [{ ...CLIENT, redirect_uris: [`${EXTERNAL}/oauth/callback/idp-a`] }] });
    relay = await startTcpCutProxy({ host: '127.0.0.1', port: 6379 });
    replica = await startReplica({
      dir, name: 'cut', idp, secret: 'redis-cut-fault-secret-0123456789abcdef',
      sessions: `{ store: redis, url: "redis://${relay.hostPort}", prefix: "${prefix}" }`,
    });
  });
  after(async () => {
    await replica?.stop();
    await relay?.close();
    await idp?.stop();
    const redis = inspector();
    await deleteKeys(redis, prefix).finally(() => redis.disconnect());
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('session requests → 503 store_unavailable (never allowed, never anonymous), not ready, counted; resume → same cookie works', async () => {
    const jar = await login(replica, idp, 'hal');
    assert.deepEqual(await whoAmI(replica, jar), { user: 'hal' });
    assert.equal((await until(() => readyz(replica.managementPort), (r) => r.status === 200)).status, 200);
    const errorsBefore = seriesSum(await scrapeMetrics(replica.managementPort), 'kestra_authz_store_errors_total', /store="redis"/);

    relay.cut();
    const down = await until(() => whoAmI(replica, jar), (r) => r.status === 503);
    assert.equal(down.status, 503, `fails closed: ${JSON.stringify(down)}`);
    assert.equal(JSON.parse(down.body ?? '{}').error, 'store_unavailable');
    for (let i = 0; i < 5; i++) {
      const again = await whoAmI(replica, jar);
      assert.equal(again.user, undefined, 'never an allow while Redis is unreachable');
      assert.equal(again.status, 503, 'never treated as anonymous (that would be 401/302)');
    }
    const notReady = await until(() => readyz(replica.managementPort), (r) => r.status === 503);
    assert.equal(notReady.status, 503);
    assert.match(notReady.body, /sessions/);
    const text = await scrapeMetrics(replica.managementPort);
    assert.ok(seriesSum(text, 'kestra_authz_store_errors_total', /store="redis"/) > errorsBefore, 'store errors counted');
    assert.ok(seriesSum(text, 'kestra_authz_decisions_total', /reason="store_unavailable"/) >= 6);
    assert.equal(replica.exited(), undefined, `the process stays up:\n${replica.output()}`);

    relay.resume();
    const back = await until(() => whoAmI(replica, jar), (r) => r.user !== undefined);
    assert.deepEqual(back, { user: 'hal' }, 'recovers by itself, the session intact');
    assert.equal((await until(() => readyz(replica.managementPort), (r) => r.status === 200)).status, 200);
  });
});

const pgSkip = await postgresSkipReason();

describe('PostgreSQL users unreachable (relay cut)', { skip: pgSkip }, () => {
  const schema = newSchemaName();
  const FLOW = '/api/v1/main/flows/company.team/hello';
  const basic = (password: string) => ({ authorization: `Basic ${Buffer.from(`ops:${password}`).toString('base64')}`, accept: 'application/json' });
  let dir: string;
  let relay: TcpCutProxy;
  let door: GrpcDoor;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kauthz-pg-cut-'));
    relay = await startTcpCutProxy({ host: PG_HOST, port: PG_PORT });
    const configPath = join(dir, 'config.yaml');
    await writeFile(configPath, stringify({
      kestra: { encryption: { 'secret-key': '0123456789abcdef0123456789abcdef-test' }, security: { 'default-role': { name: 'viewer', permissions: { FLOW: ['READ'] } } } },
      authz: {
        listen: { grpc: '127.0.0.1:0', http: '127.0.0.1:0', management: '127.0.0.1:0' },
        users: { store: 'postgres', url: storeUrl(schema, relay.hostPort) },
        log: { level: 'silent' },
      },
    }));
    await createUsersWithCli(configPath, ['ops', 'correct-horse-1']);
    door = await startGrpcDoor(configPath);
  });
  after(async () => {
    await door?.close();
    await relay?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
    await dropSchema(schema);
  });

  test('Basic → 503 store_unavailable (right or wrong password), NOT_SERVING, counted; resume → allowed again', async () => {
    const port = door.service.managementPort;
    expectAllowed(await door.check({ path: FLOW, headers: basic('correct-horse-1') }));
    relay.cut();
    for (const password of ['correct-horse-1', 'wrong-password', 'correct-horse-1']) {
      const denied = expectDenied(await door.check({ path: FLOW, headers: basic(password) }), 503);
      assert.equal(JSON.parse(denied.body ?? '{}').error, 'store_unavailable');
    }
    const notReady = await until(() => readyz(port), (r) => r.status === 503);
    assert.match(notReady.body, /users/);
    assert.equal(await until(() => door.client.health(''), (s) => s === 'NOT_SERVING'), 'NOT_SERVING');
    const text = await scrapeMetrics(port);
    assert.ok(seriesSum(text, 'kestra_authz_store_errors_total', /store="postgres"/) >= 1);
    assert.ok(seriesSum(text, 'kestra_authz_decisions_total', /reason="store_unavailable"/) >= 3);
    assert.doesNotMatch(text, /correct-horse|wrong-password/);

    relay.resume();
    const back = await until(() => door.check({ path: FLOW, headers: basic('correct-horse-1') }), (r) => (r.status?.code ?? 0) === 0);
    expectAllowed(back);
    assert.equal(await until(() => door.client.health(''), (s) => s === 'SERVING'), 'SERVING');
    assert.equal((await until(() => readyz(port), (r) => r.status === 200)).status, 200);
    // Wrong passwords are plain 401s again (the lockout store is reachable too).
    expectDenied(await door.check({ path: FLOW, headers: basic('wrong-password') }), 401);
  });
});
