/**
 * Issue 13 item 7 with the shared stores: users in PostgreSQL, sessions in
 * Redis (`authz.sessions.store: redis`), two `serve` replicas. A password
 * changed or a user deleted with the real CLI ends the earlier password-form
 * sessions on both replicas; a copy of the session cookie taken before is
 * refused.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startOidcIdp, type OidcIdp } from '../helpers/oidc-idp.js';
import { pollUntil } from '../helpers/poll.js';
import { CLIENT, EXTERNAL, SHARED_REDIS, redisSkipReason, startReplica, testPrefix, whoAmI, type Replica } from '../sessions-redis/redis-fixture.js';
import { dropSchema, newSchemaName, postgresSkipReason, storeUrl } from '../users-postgres/pg-fixture.js';
import { cliOk, formLogin, formLogout, refusedOnEvery, refusedSoon, replicaConfig, stopReplicas } from './session-end-fixture.js';

const skip = (await redisSkipReason()) || (await postgresSkipReason()) || false;
const SECRET = 'session-end-pg-secret-0123456789abcdef-xyz';

describe('users in PostgreSQL, sessions in Redis, two replicas: set-password and delete end form sessions', { skip }, () => {
  const schema = newSchemaName();
  const prefix = testPrefix();
  let dir: string;
  let idp: OidcIdp;
  let a: Replica;
  let b: Replica;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kauthz-session-end-pg-'));
    idp = await startOidcIdp({ name: 'opse4', clients: [{ ...CLIENT, redirect_uris: [`${EXTERNAL}/oauth/callback/idp-a`] }], users: {} });
    const users = `{ store: postgres, url: "${storeUrl(schema)}" }`;
    const sessions = `{ store: redis, url: "${SHARED_REDIS}", prefix: "${prefix}" }`;
    a = await startReplica({ dir, name: 'a', idp, secret: SECRET, sessions, users });
    b = await startReplica({ dir, name: 'b', idp, secret: SECRET, sessions, users });
    await cliOk(replicaConfig(dir, 'a'), 'create', 'ops', 'first-password-1');
    await cliOk(replicaConfig(dir, 'a'), 'create', 'tmp', 'tmp-password-1');
  });

  after(async () => {
    await stopReplicas([a, b], idp, prefix, dir);
    await dropSchema(schema);
  });

  test('set-password: the session from before is refused on both replicas; the new password logs in', async () => {
    const jar = await formLogin(a, 'ops', 'first-password-1');
    assert.deepEqual(await whoAmI(b, jar), { user: 'ops' });
    await cliOk(replicaConfig(dir, 'b'), 'set-password', 'ops', 'second-password-2');
    await refusedOnEvery([a, b], jar, 'set-password on B');
    const fresh = await formLogin(b, 'ops', 'second-password-2');
    assert.deepEqual(await whoAmI(a, fresh), { user: 'ops' });
    assert.equal((await formLogout(a, fresh)).status, 302);
    assert.equal((await refusedSoon(b, fresh)).status, 401, 'logout of a stored session ends it everywhere');
  });

  test('delete: the user\'s session is refused on both replicas', async () => {
    const jar = await formLogin(b, 'tmp', 'tmp-password-1');
    assert.deepEqual(await whoAmI(a, jar), { user: 'tmp' });
    await cliOk(replicaConfig(dir, 'a'), 'delete', 'tmp');
    for (const replica of [a, b]) {
      const answer = await pollUntil(() => whoAmI(replica, jar), (r) => r.status !== undefined, { timeoutMs: 10_000, intervalMs: 100 });
      assert.equal(answer.status, 401, `refused on ${replica.name}: ${JSON.stringify(answer)}`);
    }
  });
});
