/**
 * Issue 13 item 7, the attacker's side: a copy of a session cookie taken
 * before a logout, a password change or a user deletion must be refused
 * afterwards — on the replica that did it and on the other one.
 * Real `serve` processes, real Redis, real oidc-provider, the real CLI.
 * Run with NODE_EXTRA_CA_CERTS=test/fixtures/tls/cert.pem (the IdP is HTTPS).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { headersOf } from '../helpers/grpc-client.js';
import { startOidcIdp, type OidcIdp } from '../helpers/oidc-idp.js';
import { pollUntil } from '../helpers/poll.js';
import {
  BROWSER, CLIENT, EXTERNAL, SHARED_REDIS, cookieHeader, login, redisSkipReason,
  startPrivateRedis, startReplica, testPrefix, whoAmI, type PrivateRedis, type Replica,
} from '../sessions-redis/redis-fixture.js';
import { mintLogoutToken, postLogoutToken } from '../sessions-redis/logout-token-minter.js';
import { acceptedSoon, cliOk, errorOf, formLoginOnceSeen, formLogout, refusedOnEvery, replicaConfig, stopReplicas } from './session-end-fixture.js';

const skip = await redisSkipReason({ needsRedisServer: true });
const SECRET = 'session-end-secret-0123456789abcdef-xyz';
const idpOptions = (name: string) => ({
  name,
  clients: [{ ...CLIENT, redirect_uris: [`${EXTERNAL}/oauth/callback/idp-a`], post_logout_redirect_uris: [`${EXTERNAL}/logout`, `${EXTERNAL}/`] }],
  users: { dora: { preferred_username: 'dora', email: 'dora@example.com', groups: ['ops'] } },
});

describe('cookie store with the logout list shared through Redis: two replicas, users file', { skip }, () => {
  const prefix = testPrefix();
  let dir: string;
  let idp: OidcIdp;
  let a: Replica;
  let b: Replica;

  before(async () => {
    assert.ok(process.env.NODE_EXTRA_CA_CERTS, 'run with NODE_EXTRA_CA_CERTS=test/fixtures/tls/cert.pem (the test IdP is HTTPS)');
    dir = await mkdtemp(join(tmpdir(), 'kauthz-session-end-'));
    idp = await startOidcIdp(idpOptions('opse1'));
    const sessions = `{ store: cookie, revocations: { store: redis, url: "${SHARED_REDIS}", prefix: "${prefix}" } }`;
    a = await startReplica({ dir, name: 'a', idp, secret: SECRET, sessions });
    b = await startReplica({ dir, name: 'b', idp, secret: SECRET, sessions });
    await cliOk(replicaConfig(dir, 'a'), 'create', 'ops', 'first-password-1');
    await cliOk(replicaConfig(dir, 'a'), 'create', 'eve', 'eve-password-1');
  });

  after(() => stopReplicas([a, b], idp, prefix, dir));

  test('password-form session: POST /logout on A → the copied cookie is refused on A and on B', async () => {
    const jar = await formLoginOnceSeen(a, 'ops', 'first-password-1');
    const copy = new Map(jar);
    assert.deepEqual(await whoAmI(a, copy), { user: 'ops' });
    assert.deepEqual(await acceptedSoon(b, copy, 'ops'), { user: 'ops' }, 'the session works on both replicas');

    const out = await formLogout(a, jar);
    assert.equal(out.status, 302);
    assert.ok(out.cleared, 'the browser cookie is cleared');
    const onA = await whoAmI(a, copy);
    assert.equal(onA.status, 401, `refused at once on the replica that logged out: ${JSON.stringify(onA)}`);
    await refusedOnEvery([a, b], copy, 'logout on A');
  });

  test('OIDC session: POST /logout on B → the copied cookies are refused on A and on B', async () => {
    const jar = await login(b, idp, 'dora');
    const copy = new Map(jar);
    assert.deepEqual(await whoAmI(a, copy), { user: 'dora' });
    const out = await b.check({ method: 'POST', path: '/logout', headers: { ...BROWSER, origin: EXTERNAL, cookie: cookieHeader(jar) } });
    assert.equal(out.denied_response?.status?.code, 302, JSON.stringify(out));
    assert.ok(headersOf(out.denied_response?.headers, 'set-cookie').some((l) => l.startsWith('JWT=') && /max-age=0/i.test(l)));
    await refusedOnEvery([a, b], copy, 'OIDC logout on B');
    // A new login is a new session.
    assert.deepEqual(await whoAmI(a, await login(a, idp, 'dora')), { user: 'dora' });
  });

  test('auths users set-password (a CLI process) ends the earlier form sessions on both replicas', async () => {
    const jar = await formLoginOnceSeen(b, 'eve', 'eve-password-1');
    assert.deepEqual(await acceptedSoon(a, jar, 'eve'), { user: 'eve' });
    await cliOk(replicaConfig(dir, 'a'), 'set-password', 'eve', 'eve-password-2');
    await refusedOnEvery([a, b], jar, 'set-password');
    const fresh = await formLoginOnceSeen(a, 'eve', 'eve-password-2');
    assert.deepEqual(await acceptedSoon(b, fresh, 'eve'), { user: 'eve' });
  });

  test('back-channel logout posted to A ends the cookie session on B too (the list is shared)', async () => {
    const ivy = await login(b, idp, 'ivy');
    const jon = await login(b, idp, 'jon');
    assert.deepEqual(await whoAmI(b, ivy), { user: 'ivy' });
    const res = await postLogoutToken(a.httpPort, 'idp-a', await mintLogoutToken(idp, CLIENT.client_id, { claims: { sub: 'ivy' } }));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    await refusedOnEvery([a, b], ivy, 'back-channel logout on A');
    assert.deepEqual(await whoAmI(b, jon), { user: 'jon' }, 'another user\'s session is untouched');
  });

  test('auths users delete (a CLI process) ends the user\'s sessions on both replicas', async () => {
    await cliOk(replicaConfig(dir, 'a'), 'create', 'tmp', 'tmp-password-1');
    const jar = await formLoginOnceSeen(b, 'tmp', 'tmp-password-1');
    await cliOk(replicaConfig(dir, 'b'), 'delete', 'tmp');
    await refusedOnEvery([a, b], jar, 'delete');
  });
});

describe('cookie store without a shared list: one replica', { skip }, () => {
  let dir: string;
  let idp: OidcIdp;
  let a: Replica;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kauthz-session-end-1-'));
    idp = await startOidcIdp(idpOptions('opse2'));
    a = await startReplica({ dir, name: 'a', idp, secret: SECRET, sessions: '{ store: cookie }' });
    await cliOk(replicaConfig(dir, 'a'), 'create', 'ops', 'first-password-1');
  });
  after(async () => {
    await a?.stop();
    await idp?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('POST /logout → the copied cookie is refused by this replica (its own list)', async () => {
    const jar = await formLoginOnceSeen(a, 'ops', 'first-password-1');
    const copy = new Map(jar);
    assert.deepEqual(await whoAmI(a, copy), { user: 'ops' });
    assert.equal((await formLogout(a, jar)).status, 302);
    const answer = await whoAmI(a, copy);
    assert.equal(answer.status, 401, JSON.stringify(answer));
    assert.equal(errorOf(answer), 'session_invalid');
  });
});

describe('the shared logout list down: fail closed', { skip }, () => {
  let dir: string;
  let idp: OidcIdp;
  let redis: PrivateRedis;
  let a: Replica;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kauthz-session-end-down-'));
    idp = await startOidcIdp(idpOptions('opse3'));
    redis = await startPrivateRedis();
    a = await startReplica({ dir, name: 'a', idp, secret: SECRET, sessions: `{ store: cookie, revocations: { url: "${redis.url}" } }` });
    await cliOk(replicaConfig(dir, 'a'), 'create', 'ops', 'first-password-1');
  });
  after(async () => {
    await a?.stop();
    await redis?.kill();
    await idp?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('Redis gone: a session cookie gets 503, never an allow; logout answers 503 (not "done")', async () => {
    const jar = await formLoginOnceSeen(a, 'ops', 'first-password-1');
    assert.deepEqual(await whoAmI(a, jar), { user: 'ops' });
    await redis.kill();
    const answer = await pollUntil(() => whoAmI(a, jar), (r) => r.status === 503, { timeoutMs: 10_000, intervalMs: 100 });
    assert.equal(answer.status, 503, JSON.stringify(answer));
    assert.equal(errorOf(answer), 'store_unavailable');
    const out = await formLogout(a, jar);
    assert.equal(out.status, 503, 'a logout that cannot be shared is not reported as done');
    assert.equal(a.exited(), undefined, 'the process stays up');
  });
});
