/**
 * Refresh single-flight across replicas: the IdP (real oidc-provider) issues
 * 2-second tokens and one-time (rotating) refresh tokens; 20 concurrent
 * Checks with the same expired session, spread over two replicas sharing
 * Redis, are all allowed and the IdP sees exactly one refresh grant.
 * Waiting for the tokens to expire is a sleep, never an assertion on time.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import type { OidcIdp } from '../helpers/oidc-idp.js';
import { CLIENT, EXTERNAL, login, redisSkipReason, startReplicaPair, testPrefix, whoAmI, type Replica, type ReplicaPair } from './redis-fixture.js';

const skip = await redisSkipReason();
const TOKEN_TTL_SECONDS = 2;

describe('refresh single-flight across two replicas', { skip }, () => {
  const prefix = testPrefix();
  let idp: OidcIdp;
  let redis: Redis;
  let a: Replica;
  let b: Replica;

  let pair: ReplicaPair | undefined;

  before(async () => {
    pair = await startReplicaPair({
      prefix,
      secret: 'refresh-redis-secret-0123456789abcdef-xyz',
      idp: {
        name: 'oprr',
        clients: [{ ...CLIENT, redirect_uris: [`${EXTERNAL}/oauth/callback/idp-a`] }],
        users: { erin: { preferred_username: 'erin', groups: ['g1'] } },
        accessTokenTtl: TOKEN_TTL_SECONDS,
        idTokenTtl: TOKEN_TTL_SECONDS,
        refresh: true,
        rotateRefreshTokens: true,
      },
    });
    ({ idp, redis, a, b } = pair);
  });

  after(async () => {
    await pair?.stop();
  });

  test('20 concurrent expired-session Checks over A and B → all allowed, one refresh grant at the IdP', async () => {
    const jar = await login(a, idp, 'erin');
    assert.deepEqual(await whoAmI(b, jar), { user: 'erin' });
    assert.equal(idp.counts.refresh, 0, 'no refresh while the tokens are valid');

    await sleep((TOKEN_TTL_SECONDS + 1.5) * 1000);
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => whoAmI(i % 2 ? b : a, jar, `/app/item/${i}`)));
    for (const answer of answers) assert.deepEqual(answer, { user: 'erin' }, 'every concurrent Check is allowed');
    assert.equal(idp.counts.refresh, 1, 'exactly one refresh grant at the IdP');
    assert.equal(idp.counts.refreshFailed, 0);

    // The refreshed session serves both replicas with the same cookie, without another grant.
    assert.deepEqual(await whoAmI(a, jar), { user: 'erin' });
    assert.deepEqual(await whoAmI(b, jar), { user: 'erin' });
    assert.equal(idp.counts.refresh, 1);

    // And the next expiry is refreshed again, once, with the rotated refresh token.
    await sleep((TOKEN_TTL_SECONDS + 1.5) * 1000);
    const again = await Promise.all(Array.from({ length: 10 }, (_, i) => whoAmI(i % 2 ? a : b, jar)));
    for (const answer of again) assert.deepEqual(answer, { user: 'erin' });
    assert.equal(idp.counts.refresh, 2);
    assert.equal(idp.counts.refreshFailed, 0, 'the rotated refresh token was used, never a spent one');
  });
});
