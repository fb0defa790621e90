/**
 * Token-type confusion (RFC 8725 §3.11; issue 13, item 5): tokens a trusted
 * issuer signed for another purpose than calling the API. The login IdP's
 * own logout tokens, signed with its key and addressed to our client, are no
 * Bearer tokens (either door) while the back-channel logout endpoint still
 * takes them; ID tokens only from an issuer that accepts them; a required
 * `typ` (`at+jwt`, RFC 9068) per issuer; our session cookie and Bearer
 * tokens are not interchangeable.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startJwksServer, type JwksServer } from '../authn-bearer/jwks-server.js';
import { loginThroughGrpcDoor } from '../helpers/login-session.js';
import { EVENT, mintLogoutToken, postLogoutToken } from '../sessions-redis/logout-token-minter.js';
import { decisionCount, expectAllowed, expectRefused } from './attack-kit.js';
import { ADMIN_ONLY, API, CLIENT, startIdpService, type IdpService } from './idp-service-kit.js';

describe('token-type confusion, through the real service', () => {
  let s: IdpService;
  let strict: JwksServer;
  let lenient: JwksServer;
  const apiClaims = (issuer: string) => ({ iss: issuer, aud: 'api', sub: 'fay', iat: Math.floor(Date.now() / 1000), exp: Math.floor(Date.now() / 1000) + 600 });

  before(async () => {
    strict = await startJwksServer();
    lenient = await startJwksServer();
    await strict.addKey('s-1');
    await lenient.addKey('l-1');
    s = await startIdpService({
      name: 'optt',
      users: { fay: { email: 'fay@example.com', email_verified: true } },
      issuers: [
        { issuer: strict.issuer, 'jwks-uri': strict.jwksUri, audiences: ['api'], 'token-types': ['at+jwt'] },
        { issuer: lenient.issuer, 'jwks-uri': lenient.jwksUri, audiences: ['api'], 'accept-id-tokens': true },
      ],
    });
  });

  after(async () => {
    await s?.close();
    await Promise.all([strict?.stop(), lenient?.stop()]);
  });

  test('control: an access token of the IdP for fay (admin) may DELETE', async () => {
    expectAllowed(await s.deleteWith(await s.signedByIdp(s.accessClaims())));
  });

  test("the IdP's logout token (typ logout+jwt) is no Bearer token, on either door; the logout endpoint still takes it", async () => {
    await s.refused(await mintLogoutToken(s.idp, CLIENT.client_id, { claims: { sub: 'fay' } }), 'token_type_not_allowed');

    const before = await decisionCount('token_type_not_allowed', 'http');
    const res = await s.httpDeleteWith(await mintLogoutToken(s.idp, CLIENT.client_id, { claims: { sub: 'fay' } }));
    assert.equal(res.status, 401);
    assert.equal(((await res.json()) as { error: string }).error, 'token_type_not_allowed');
    assert.match(res.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
    assert.equal(await decisionCount('token_type_not_allowed', 'http'), before + 1);

    const logout = await postLogoutToken(s.door.service.httpPort, 'idp-a', await mintLogoutToken(s.idp, CLIENT.client_id, { claims: { sub: 'fay' } }));
    assert.equal(logout.status, 200, JSON.stringify(logout.body));
  });

  test('a logout token without typ (only its events claim tells) is refused too, as is any other security event token', async () => {
    const logoutClaims = s.accessClaims({ exp: s.now() + 120, jti: 'j-untyped', events: { [EVENT]: {} } });
    await s.refused(await s.signedByIdp(logoutClaims), 'token_type_not_allowed');
    await s.refused(await s.signedByIdp(logoutClaims, {}), 'token_type_not_allowed');
    await s.refused(await s.signedByIdp({ ...logoutClaims, events: { 'https://example.com/other-event': {} } }), 'token_type_not_allowed');
    await s.refused(await s.signedByIdp(s.accessClaims(), { typ: 'application/logout+JWT' }), 'token_type_not_allowed');
    await s.refused(await s.signedByIdp(s.accessClaims(), { typ: 'secevent+jwt' }), 'token_type_not_allowed');
    // The endpoint still takes the untyped one (Back-Channel Logout 1.0 only recommends typ).
    assert.equal((await postLogoutToken(s.door.service.httpPort, 'idp-a', await s.signedByIdp(logoutClaims))).status, 200);
  });

  test('ID tokens: refused as Bearer by default, accepted from the issuer that says so', async () => {
    const idClaims = s.accessClaims({ azp: CLIENT.client_id });
    await s.refused(await s.signedByIdp({ ...idClaims, nonce: 'n-1' }), 'token_type_not_allowed');
    await s.refused(await s.signedByIdp({ ...idClaims, at_hash: 'x2bCV8x0zSp9DU1qDJ_0Gg' }), 'token_type_not_allowed');
    await s.refused(await s.signedByIdp({ ...idClaims, typ: 'ID' }), 'token_type_not_allowed');
    // Keycloak before 25 copied the nonce into access tokens, which it marks with typ: Bearer.
    expectAllowed(await s.deleteWith(await s.signedByIdp({ ...idClaims, nonce: 'n-1', typ: 'Bearer' })));
    expectAllowed(await s.deleteWith(await lenient.sign({ ...apiClaims(lenient.issuer), nonce: 'n-2', at_hash: 'x2bCV8x0zSp9DU1qDJ_0Gg' }, 'l-1')));
  });

  test('token-types [at+jwt]: only tokens typed so, however spelled, pass the strict issuer', async () => {
    await s.refused(await strict.sign(apiClaims(strict.issuer), 's-1'), 'token_type_not_allowed');
    await s.refused(await strict.sign(apiClaims(strict.issuer), 's-1', { typ: undefined }), 'token_type_not_allowed');
    await s.refused(await strict.sign(apiClaims(strict.issuer), 's-1', { typ: 'logout+jwt' }), 'token_type_not_allowed');
    expectAllowed(await s.deleteWith(await strict.sign(apiClaims(strict.issuer), 's-1', { typ: 'at+jwt' })));
    expectAllowed(await s.deleteWith(await strict.sign({ ...apiClaims(strict.issuer), jti: 'x' }, 's-1', { typ: 'application/AT+JWT' })));
  });

  test('our session cookie is no Bearer token, and an IdP token is no session cookie', async () => {
    const jar = await loginThroughGrpcDoor(s.door, '/app/home', (url) => s.idp.loginWith(url, 'fay'));
    expectRefused(await s.deleteWith(jar.get('JWT')!), 401, 'token_untrusted_issuer');
    const res = await s.door.check({ method: 'DELETE', path: ADMIN_ONLY, headers: { ...API, cookie: `JWT=${await s.signedByIdp(s.accessClaims())}` } });
    expectRefused(res, 401, 'session_invalid');
  });
});
