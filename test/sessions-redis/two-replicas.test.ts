/**
 * Two `kestra-authz serve` processes sharing the real Redis
 * (`authz.sessions.store: redis`): a login on one is a session on both, a
 * logout on either ends it on both; the session is encrypted at rest and the
 * cookie holds only a signed opaque id.
 * Run with NODE_EXTRA_CA_CERTS=test/fixtures/tls/cert.pem (the IdP is HTTPS).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { headerOf, headersOf } from '../helpers/grpc-client.js';
import type { OidcIdp } from '../helpers/oidc-idp.js';
import {
  BROWSER, CLIENT, EXTERNAL, cookieHeader, login, merge, redisSkipReason,
  startReplicaPair, testPrefix, whoAmI, type Replica, type ReplicaPair,
} from './redis-fixture.js';

const skip = await redisSkipReason();
const SECRET = 'two-replicas-secret-0123456789abcdef-xyz';

describe('Redis sessions across two replicas', { skip }, () => {
  const prefix = testPrefix();
  let idp: OidcIdp;
  let redis: Redis;
  let a: Replica;
  let b: Replica;

  let pair: ReplicaPair | undefined;

  before(async () => {
    assert.ok(process.env.NODE_EXTRA_CA_CERTS, 'run with NODE_EXTRA_CA_CERTS=test/fixtures/tls/cert.pem (the test IdP is HTTPS)');
    pair = await startReplicaPair({
      prefix,
      secret: SECRET,
      idp: {
        name: 'op2r',
        clients: [{ ...CLIENT, redirect_uris: [`${EXTERNAL}/oauth/callback/idp-a`], post_logout_redirect_uris: [`${EXTERNAL}/logout`, `${EXTERNAL}/`] }],
        users: { dora: { preferred_username: 'dora', email: 'dora@example.com', groups: ['ops', 'kestra-devs'] } },
      },
    });
    ({ idp, redis, a, b } = pair);
  });

  after(async () => {
    await pair?.stop();
  });

  test('login on A → session on B; logout on B → refused on A within 1 s', async () => {
    const jar = await login(a, idp, 'dora');
    assert.deepEqual(await whoAmI(a, jar), { user: 'dora' });
    assert.deepEqual(await whoAmI(b, jar), { user: 'dora' }, 'the other replica reads the same session');
    // Both replicas have now answered from the session (and may hold it in their caches).
    assert.deepEqual(await whoAmI(a, jar), { user: 'dora' });

    const out = await b.check({ method: 'POST', path: '/logout', headers: { ...BROWSER, origin: EXTERNAL, cookie: cookieHeader(jar) } });
    assert.equal(out.denied_response?.status?.code, 302, JSON.stringify(out));
    const cleared = headersOf(out.denied_response?.headers, 'set-cookie').find((l) => l.startsWith('JWT='));
    assert.match(cleared ?? '', /max-age=0/i, 'the browser cookie is cleared');

    // The old cookie (a copy kept by an attacker, another tab) is refused everywhere.
    await sleep(1000);
    const onA = await whoAmI(a, jar);
    assert.equal(onA.status, 401, `refused on A after the logout on B: ${JSON.stringify(onA)}`);
    assert.equal(JSON.parse(onA.body ?? '{}').error, 'session_invalid');
    assert.equal((await whoAmI(b, jar)).status, 401);
  });

  test('the cookie holds a signed opaque id; Redis holds the session encrypted, with a TTL and back-channel indexes', async () => {
    const jar = await login(b, idp, 'dora');
    const cookie = jar.get('JWT') ?? '';
    assert.match(cookie, /^[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}$/, 'id (32 bytes) + HMAC, both base64url');
    assert.equal([...jar].filter(([n, v]) => n.startsWith('JWT_') && v).length, 0, 'no refresh cookie: the refresh token stays server-side');
    const id = cookie.split('.')[0]!;

    const stored = await redis.get(`${prefix}session:${id}`);
    assert.ok(stored, 'stored under <prefix>session:<id>');
    assert.equal(stored.split('.').length, 5, 'a compact JWE');
    assert.deepEqual(JSON.parse(Buffer.from(stored.split('.')[0]!, 'base64url').toString()), { alg: 'dir', enc: 'A256GCM', cty: 'kestra-authz/redis-session' });
    for (const plain of ['dora', 'ops', 'kestra-devs', 'refresh']) assert.ok(!stored.includes(plain), `no plaintext ${plain} at rest`);
    const ttl = await redis.pttl(`${prefix}session:${id}`);
    assert.ok(ttl > 0 && ttl <= 2 * 24 * 3600 * 1000, `TTL = remaining session lifetime (default P2D), got ${ttl}`);
    assert.ok(await redis.sismember(`${prefix}sub:idp-a:dora`, id), 'indexed by subject for back-channel logout');

    // A forged id (right shape, wrong MAC) and a tampered MAC are refused.
    const forged = new Map(jar).set('JWT', `${'A'.repeat(43)}.${cookie.split('.')[1]}`);
    assert.equal((await whoAmI(a, forged)).status, 401);
    const tampered = new Map(jar).set('JWT', `${id}.${'B'.repeat(43)}`);
    assert.equal((await whoAmI(a, tampered)).status, 401);
    assert.deepEqual(await whoAmI(a, jar), { user: 'dora' });
  });

  test('a navigation with an ended session goes back to the login', async () => {
    const jar = await login(a, idp, 'dora');
    const id = (jar.get('JWT') ?? '').split('.')[0]!;
    await redis.del(`${prefix}session:${id}`);
    await redis.publish(`${prefix}revoked`, id);
    await sleep(200);
    const res = await b.check({ path: '/app/page', headers: { ...BROWSER, cookie: cookieHeader(jar) } });
    assert.equal(res.denied_response?.status?.code, 302);
    assert.ok(headerOf(res.denied_response?.headers, 'location'));
    merge(jar, headersOf(res.denied_response?.headers, 'set-cookie'));
    assert.equal(jar.get('JWT'), '', 'the dead session cookie is cleared');
  });
});
