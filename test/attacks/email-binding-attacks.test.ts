/**
 * Unverified e-mail (issue 13, item 6): `email: boss@example.com` with
 * `email_verified: false` must not earn the `admin` binding written for that
 * address — by Bearer token or by browser login — nor be forwarded as
 * `x-kestra-email`; a verified one does, and so does any address from an
 * issuer (or login client) configured as verifying every address itself.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { JWTPayload } from 'jose';
import { startJwksServer, type JwksServer } from '../authn-bearer/jwks-server.js';
import { cookieHeader } from '../helpers/cookie-jar.js';
import { headerOf } from '../helpers/grpc-client.js';
import { loginThroughGrpcDoor } from '../helpers/login-session.js';
import { countedAs, expectAllowed, expectRefused } from './attack-kit.js';
import { ADMIN_ONLY, API, startIdpService, type IdpService } from './idp-service-kit.js';

describe('unverified e-mail and user bindings, through the real service', () => {
  let s: IdpService;
  let trusted: JwksServer;

  before(async () => {
    trusted = await startJwksServer();
    await trusted.addKey('t-1');
    s = await startIdpService({
      name: 'opmail',
      users: {
        // Typed the boss's address into a self-service profile; the IdP never verified it.
        mallory: { email: 'boss@example.com', email_verified: false },
        boss: { email: 'boss@example.com', email_verified: true },
      },
      issuers: [{ issuer: trusted.issuer, 'jwks-uri': trusted.jwksUri, audiences: ['api'], 'trust-email': true }],
    });
  });

  after(async () => {
    await s?.close();
    await trusted?.stop();
  });

  test('Bearer: an unverified email earns no user binding nor x-kestra-email; a verified one does', async () => {
    const boss = (extra: JWTPayload) => s.signedByIdp(s.accessClaims({ sub: 'mallory', email: 'boss@example.com', ...extra }));
    for (const unverified of [{ email_verified: false }, {}, { email_verified: 'false' }, { email_verified: 1 }]) {
      expectRefused(await countedAs('permission_denied', async () => s.deleteWith(await boss(unverified))), 403, 'permission_denied');
    }
    const read = expectAllowed(await s.door.check({ method: 'GET', path: '/app/data', headers: { ...API, authorization: `Bearer ${await boss({})}` } }));
    assert.equal(headerOf(read.headers, 'x-kestra-user'), 'mallory', 'the name falls back to sub');
    assert.equal(headerOf(read.headers, 'x-kestra-email') ?? '', '', 'an unverified address is not forwarded');

    const ok = expectAllowed(await s.deleteWith(await boss({ email_verified: true })));
    assert.equal(headerOf(ok.headers, 'x-kestra-user'), 'boss@example.com');
    assert.equal(headerOf(ok.headers, 'x-kestra-email'), 'boss@example.com');
    expectAllowed(await s.deleteWith(await boss({ email_verified: 'true' })));
  });

  test('trust-email: the issuer configured as verifying every address binds without email_verified', async () => {
    const now = s.now();
    const token = await trusted.sign({ iss: trusted.issuer, aud: 'api', sub: 't-mallory', email: 'boss@example.com', iat: now, exp: now + 600 }, 't-1');
    expectAllowed(await s.deleteWith(token));
  });

  test('browser login: an ID token with email_verified false earns no binding; true does', async () => {
    const mallory = await loginThroughGrpcDoor(s.door, '/app/home', (url) => s.idp.loginWith(url, 'mallory'));
    const denied = await s.door.check({ method: 'DELETE', path: ADMIN_ONLY, headers: { ...API, cookie: cookieHeader(mallory) } });
    expectRefused(denied, 403, 'permission_denied');

    const boss = await loginThroughGrpcDoor(s.door, '/app/home', (url) => s.idp.loginWith(url, 'boss'));
    const ok = expectAllowed(await s.door.check({ method: 'DELETE', path: ADMIN_ONLY, headers: { ...API, cookie: cookieHeader(boss) } }));
    assert.equal(headerOf(ok.headers, 'x-kestra-user'), 'boss@example.com');
  });

  test('trust-email-clients: a login client configured as verifying every address binds without email_verified', async () => {
    const trusting = await s.startVariant('trusting.yaml', { 'trust-email-clients': ['idp-a'] });
    try {
      const mallory = await loginThroughGrpcDoor(trusting, '/app/home', (url) => s.idp.loginWith(url, 'mallory'));
      const ok = expectAllowed(await trusting.check({ method: 'DELETE', path: ADMIN_ONLY, headers: { ...API, cookie: cookieHeader(mallory) } }));
      assert.equal(headerOf(ok.headers, 'x-kestra-user'), 'boss@example.com');
    } finally {
      await trusting.close();
    }
  });
});
