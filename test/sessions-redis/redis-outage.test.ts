/**
 * Redis stopped mid-test: a private `redis-server` (no persistence) that the
 * test starts on a free port and kills by pid. While it is down, requests
 * needing a session fail closed with 503 `store_unavailable` (never an
 * allow), the process stays up, /readyz says not ready and the error metric
 * counts; restarted on the same port, the service recovers by itself.
 * Waits are bounded polls, never assertions on time.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startOidcIdp, type OidcIdp } from '../helpers/oidc-idp.js';
import { BROWSER, CLIENT, EXTERNAL, login, redisSkipReason, startPrivateRedis, startReplica, whoAmI, type PrivateRedis, type Replica } from './redis-fixture.js';

const skip = await redisSkipReason({ needsRedisServer: true });

async function until<T>(probe: () => Promise<T>, done: (value: T) => boolean, tries = 100): Promise<T> {
  let value = await probe();
  for (let i = 0; i < tries && !done(value); i++) {
    await sleep(100);
    value = await probe();
  }
  return value;
}

describe('Redis down mid-flight: fail closed, then recover', { skip }, () => {
  let dir: string;
  let idp: OidcIdp;
  let server: PrivateRedis | undefined;
  let replica: Replica;

  const readyz = () => fetch(`http://127.0.0.1:${replica.managementPort}/readyz`).then((r) => r.status, () => 0);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kauthz-redis-down-'));
    idp = await startOidcIdp({ name: 'opdown', clients: [{ ...CLIENT, redirect_uris: [`${EXTERNAL}/oauth/callback/idp-a`] }] });
    server = await startPrivateRedis();
    replica = await startReplica({
      dir,
      name: 'solo',
      idp,
      secret: 'outage-secret-0123456789abcdef-xyz-123',
      sessions: `{ store: redis, url: "${server.url}", prefix: "kauthz-test-outage:" }`,
    });
  });

  after(async () => {
    await replica?.stop();
    await server?.kill();
    await idp?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('kill → 503 store_unavailable, process up, not ready; restart → serves again', async () => {
    const jar = await login(replica, idp, 'hal');
    assert.deepEqual(await whoAmI(replica, jar), { user: 'hal' });
    assert.equal(await until(readyz, (s) => s === 200), 200);

    const port = server!.port;
    await server!.kill();
    server = undefined;

    const down = await until(() => whoAmI(replica, jar), (r) => r.status === 503);
    assert.equal(down.status, 503, `fails closed while Redis is down: ${JSON.stringify(down)}`);
    assert.equal(JSON.parse(down.body ?? '{}').error, 'store_unavailable');
    for (let i = 0; i < 5; i++) assert.equal((await whoAmI(replica, jar)).status, 503, 'never an allow while down');

    // A forged cookie is refused on its MAC, without Redis.
    const forged = new Map(jar).set('JWT', `${'A'.repeat(43)}.${'B'.repeat(43)}`);
    assert.equal((await whoAmI(replica, forged)).status, 401);
    // Starting a login needs no store; a logout cannot be completed and says so.
    const start = await replica.check({ path: '/app/home', headers: BROWSER });
    assert.equal(start.denied_response?.status?.code, 302);
    const out = await replica.check({ method: 'POST', path: '/logout', headers: { ...BROWSER, origin: EXTERNAL, cookie: `JWT=${jar.get('JWT')}` } });
    assert.equal(out.denied_response?.status?.code, 503);

    assert.equal(replica.exited(), undefined, `the process stays up:\n${replica.output()}`);
    assert.equal(await until(readyz, (s) => s === 503), 503, '/readyz reports the store');
    const metrics = await (await fetch(`http://127.0.0.1:${replica.managementPort}/metrics`)).text();
    assert.match(metrics, /kestra_authz_store_errors_total\{store="redis",op="get"\} [1-9]/);
    assert.match(metrics, /kestra_authz_store_up\{store="redis"\} 0/);

    server = await startPrivateRedis(port);
    // The private server keeps nothing: the old session is gone, but the service answers again.
    const back = await until(() => whoAmI(replica, jar), (r) => r.status !== 503);
    assert.equal(back.status, 401, `recovered by itself: ${JSON.stringify(back)}`);
    assert.equal(await until(readyz, (s) => s === 200), 200, 'ready again');
    const again = await login(replica, idp, 'hal');
    assert.deepEqual(await whoAmI(replica, again), { user: 'hal' });
    assert.equal(replica.exited(), undefined);
  });
});
