/**
 * `iat` in the future (issue 13, item 10): a token dated a day ahead was
 * minted with a wrong clock or to outlive a key rotation; beyond the clock
 * skew it is refused — as a Bearer token on both doors, and as a logout token
 * at the back-channel logout endpoint. Inside the skew it passes.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mintLogoutToken, postLogoutToken } from '../sessions-redis/logout-token-minter.js';
import { decisionCount, expectAllowed } from './attack-kit.js';
import { CLIENT, DAY, startIdpService, type IdpService } from './idp-service-kit.js';

describe('iat in the future, through the real service', () => {
  let s: IdpService;
  before(async () => { s = await startIdpService({ name: 'opiat' }); });
  after(async () => { await s?.close(); });

  test('control: an access token issued now is allowed', async () => {
    expectAllowed(await s.deleteWith(await s.signedByIdp(s.accessClaims())));
  });

  test('iat a day ahead → 401 token_not_yet_valid on both doors; within the clock skew (60 s) → allowed', async () => {
    const ahead = await s.signedByIdp(s.accessClaims({ iat: s.now() + DAY, exp: s.now() + DAY + 600 }));
    await s.refused(ahead, 'token_not_yet_valid');
    const before = await decisionCount('token_not_yet_valid', 'http');
    const res = await s.httpDeleteWith(ahead);
    assert.equal(res.status, 401);
    assert.equal(((await res.json()) as { error: string }).error, 'token_not_yet_valid');
    assert.equal(await decisionCount('token_not_yet_valid', 'http'), before + 1);
    await s.refused(await s.signedByIdp(s.accessClaims({ iat: s.now() + 300 })), 'token_not_yet_valid');
    expectAllowed(await s.deleteWith(await s.signedByIdp(s.accessClaims({ iat: s.now() + 30 }))));
  });

  test('a logout token from the future is refused by the logout endpoint; one issued now is taken', async () => {
    const future = await mintLogoutToken(s.idp, CLIENT.client_id, { claims: { sub: 'fay', iat: s.now() + DAY, exp: s.now() + DAY + 120 } });
    const res = await postLogoutToken(s.door.service.httpPort, 'idp-a', future);
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.equal(res.body.error, 'invalid_request');
    assert.equal((await postLogoutToken(s.door.service.httpPort, 'idp-a', await mintLogoutToken(s.idp, CLIENT.client_id, { claims: { sub: 'fay' } }))).status, 200);
  });
});
