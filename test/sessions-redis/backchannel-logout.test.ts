/**
 * OpenID Connect Back-Channel Logout with the Redis store: a logout token
 * signed by the (real oidc-provider) IdP's key, posted to one replica, ends
 * the user's live session on both replicas; forged, replayed, nonce-bearing
 * or otherwise wrong tokens are refused with 400 and end nothing.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import type { OidcIdp } from '../helpers/oidc-idp.js';
import { mintLogoutToken, postLogoutToken } from './logout-token-minter.js';
import { CLIENT, EXTERNAL, login, redisSkipReason, startReplicaPair, testPrefix, whoAmI, type Jar, type Replica, type ReplicaPair } from './redis-fixture.js';

const skip = await redisSkipReason();

describe('back-channel logout with the Redis store (two replicas)', { skip }, () => {
  const prefix = testPrefix();
  let idp: OidcIdp;
  let redis: Redis;
  let a: Replica;
  let b: Replica;

  const idpSidOf = async (jar: Jar): Promise<string | undefined> => {
    const id = (jar.get('JWT') ?? '').split('.')[0]!;
    const [, keys] = await redis.scan('0', 'MATCH', `${prefix}idp-sid:idp-a:*`, 'COUNT', 1000);
    for (const key of keys) if (await redis.sismember(key, id)) return key.slice(`${prefix}idp-sid:idp-a:`.length);
    return undefined;
  };

  let pair: ReplicaPair | undefined;

  before(async () => {
    pair = await startReplicaPair({
      prefix,
      secret: 'bcl-redis-secret-0123456789abcdef-xyz',
      idp: {
        name: 'opbcl',
        clients: [{ ...CLIENT, redirect_uris: [`${EXTERNAL}/oauth/callback/idp-a`] }],
        users: { fay: { preferred_username: 'fay' }, gus: { preferred_username: 'gus' } },
      },
    });
    ({ idp, redis, a, b } = pair);
  });

  after(async () => {
    await pair?.stop();
  });

  test('bad logout tokens are refused with 400 and end nothing', async () => {
    const jar = await login(a, idp, 'fay');
    const sub = { sub: 'fay' };
    const cases: Array<[string, Promise<string>]> = [
      ['nonce', mintLogoutToken(idp, CLIENT.client_id, { claims: { ...sub, nonce: 'n-1' } })],
      ['foreign key', mintLogoutToken(idp, CLIENT.client_id, { claims: sub, foreignKey: true })],
      ['other audience', mintLogoutToken(idp, CLIENT.client_id, { claims: { ...sub, aud: 'someone-else' } })],
      ['other issuer', mintLogoutToken(idp, CLIENT.client_id, { claims: { ...sub, iss: 'https://evil.example.com' } })],
      ['no events', mintLogoutToken(idp, CLIENT.client_id, { claims: sub, omit: ['events'] })],
      ['wrong event', mintLogoutToken(idp, CLIENT.client_id, { claims: { ...sub, events: { 'http://example.com/other': {} } } })],
      ['no sid nor sub', mintLogoutToken(idp, CLIENT.client_id)],
      ['no jti', mintLogoutToken(idp, CLIENT.client_id, { claims: sub, omit: ['jti'] })],
      ['no iat', mintLogoutToken(idp, CLIENT.client_id, { claims: sub, omit: ['iat'] })],
      ['old iat', mintLogoutToken(idp, CLIENT.client_id, { claims: { ...sub, iat: Math.floor(Date.now() / 1000) - 3600, exp: undefined } })],
      ['expired', mintLogoutToken(idp, CLIENT.client_id, { claims: { ...sub, exp: Math.floor(Date.now() / 1000) - 600 } })],
    ];
    for (const [name, token] of cases) {
      const res = await postLogoutToken(a.httpPort, 'idp-a', await token);
      assert.equal(res.status, 400, `${name}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error, 'invalid_request', name);
      assert.equal(res.cacheControl, 'no-store', name);
    }
    assert.equal((await postLogoutToken(a.httpPort, 'nope', await mintLogoutToken(idp, CLIENT.client_id, { claims: sub }))).status, 400, 'unknown provider');
    assert.equal((await postLogoutToken(a.httpPort, 'idp-a', 'not-a-jwt')).status, 400);
    assert.equal((await postLogoutToken(a.httpPort, 'idp-a', '', { method: 'GET' })).status, 405);
    assert.deepEqual(await whoAmI(a, jar), { user: 'fay' }, 'nothing was ended');
    assert.deepEqual(await whoAmI(b, jar), { user: 'fay' });
  });

  test('a logout token with sid + sub ends the sessions of that IdP session on both replicas; its replay is refused', async () => {
    const jar = await login(a, idp, 'fay');
    assert.deepEqual(await whoAmI(b, jar), { user: 'fay' });
    // The test IdP's ID tokens carry no `sid` (its back-channel feature is off), so the session is matched by
    // sub as "a session of this user whose IdP sid is unknown" (redis-session-store.test.ts covers sid matching).
    assert.equal(await idpSidOf(jar), undefined);
    const token = await mintLogoutToken(idp, CLIENT.client_id, { claims: { sub: 'fay', sid: 'op-session-1' } });
    const res = await postLogoutToken(b.httpPort, 'idp-a', token);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.cacheControl, 'no-store');
    await sleep(1000);
    for (const replica of [a, b]) assert.equal((await whoAmI(replica, jar)).status, 401, `ended on ${replica.name}`);

    const again = await login(a, idp, 'fay');
    const replay = await postLogoutToken(a.httpPort, 'idp-a', token);
    assert.equal(replay.status, 400, 'a replayed jti is refused');
    assert.deepEqual(await whoAmI(b, again), { user: 'fay' }, 'the replay ended nothing');
  });

  test('a logout token with only sub ends every session of that user on both replicas', async () => {
    const first = await login(a, idp, 'gus');
    const second = await login(b, idp, 'gus');
    const bystander = await login(a, idp, 'fay');
    const res = await postLogoutToken(a.httpPort, 'idp-a', await mintLogoutToken(idp, CLIENT.client_id, { claims: { sub: 'gus' } }));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    await sleep(1000);
    for (const replica of [a, b]) {
      assert.equal((await whoAmI(replica, first)).status, 401);
      assert.equal((await whoAmI(replica, second)).status, 401);
      assert.deepEqual(await whoAmI(replica, bystander), { user: 'fay' });
    }
    // Logging in again after the logout works.
    assert.deepEqual(await whoAmI(b, await login(b, idp, 'gus')), { user: 'gus' });
  });
});
