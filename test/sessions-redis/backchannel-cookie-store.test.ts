/**
 * Back-channel logout with the default cookie store (no Redis): signed
 * cookies cannot be deleted, so the replica keeps an in-memory revocation
 * list and refuses the sessions that logged in before the logout token.
 * (One replica: across several, back-channel logout needs the Redis store.)
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startOidcIdp, type OidcIdp } from '../helpers/oidc-idp.js';
import { mintLogoutToken, postLogoutToken } from './logout-token-minter.js';
import { CLIENT, EXTERNAL, login, startReplica, whoAmI, type Replica } from './redis-fixture.js';

describe('back-channel logout with the cookie store', () => {
  let dir: string;
  let idp: OidcIdp;
  let replica: Replica;

  before(async () => {
    assert.ok(process.env.NODE_EXTRA_CA_CERTS, 'run with NODE_EXTRA_CA_CERTS=test/fixtures/tls/cert.pem (the test IdP is HTTPS)');
    dir = await mkdtemp(join(tmpdir(), 'kauthz-bcl-cookie-'));
    idp = await startOidcIdp({ name: 'opbclc', clients: [{ ...CLIENT, redirect_uris: [`${EXTERNAL}/oauth/callback/idp-a`] }] });
    replica = await startReplica({ dir, name: 'c', idp, secret: 'bcl-cookie-secret-0123456789abcdef-xyz', sessions: '{ store: cookie }' });
  });

  after(async () => {
    await replica?.stop();
    await idp?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('a logout token by sub refuses the earlier sessions of that user only; a new login works; replay refused', async () => {
    const ivy = await login(replica, idp, 'ivy');
    const jon = await login(replica, idp, 'jon');
    assert.deepEqual(await whoAmI(replica, ivy), { user: 'ivy' });

    const token = await mintLogoutToken(idp, CLIENT.client_id, { claims: { sub: 'ivy' } });
    const res = await postLogoutToken(replica.httpPort, 'idp-a', token);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const refused = await whoAmI(replica, ivy);
    assert.equal(refused.status, 401);
    assert.equal(JSON.parse(refused.body ?? '{}').error, 'session_invalid');
    assert.deepEqual(await whoAmI(replica, jon), { user: 'jon' });
    // Revocation times are whole seconds and a login in the revocation's second is refused too: log in a second later.
    await sleep(1100);
    assert.deepEqual(await whoAmI(replica, await login(replica, idp, 'ivy')), { user: 'ivy' }, 'a new login works');

    assert.equal((await postLogoutToken(replica.httpPort, 'idp-a', token)).status, 400, 'replayed jti');
    assert.equal((await postLogoutToken(replica.httpPort, 'idp-a', await mintLogoutToken(idp, CLIENT.client_id, { claims: { sub: 'jon', nonce: 'x' } }))).status, 400);
    assert.deepEqual(await whoAmI(replica, jon), { user: 'jon' });
  });

  test('sid + sub: a session whose IdP sid is unknown is refused (safe side)', async () => {
    const kim = await login(replica, idp, 'kim');
    const res = await postLogoutToken(replica.httpPort, 'idp-a', await mintLogoutToken(idp, CLIENT.client_id, { claims: { sub: 'kim', sid: 'op-sid-k' } }));
    assert.equal(res.status, 200);
    assert.equal((await whoAmI(replica, kim)).status, 401);
  });
});
