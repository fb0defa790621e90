/**
 * The test IdP helper itself: discovery over HTTPS, a full code flow walked by
 * an agent, refresh counting, RP-initiated logout. Other suites build on it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as oidc from 'openid-client';
import { startOidcIdp, type OidcIdp } from '../helpers/oidc-idp.js';

const REDIRECT = 'https://app.example/oauth/callback/test';
const POST_LOGOUT = 'https://app.example/logout?done=1';

describe('test IdP (oidc-provider over HTTPS)', () => {
  let idp: OidcIdp;
  before(async () => {
    idp = await startOidcIdp({
      name: 'helper',
      clients: [{ client_id: 'app', client_secret: 'app-secret', redirect_uris: [REDIRECT], post_logout_redirect_uris: [POST_LOGOUT] }],
      users: { alice: { email: 'alice@example.com', groups: ['devs', 'ops'], preferred_username: 'alice' } },
    });
  });
  after(() => idp.stop());

  test('code flow, claims in the ID token, refresh counted, logout', async () => {
    const config = await oidc.discovery(new URL(idp.issuer), 'app', undefined, oidc.ClientSecretBasic('app-secret'));
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT,
      scope: 'openid email profile groups',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    const agent = idp.newAgent();
    const handoff = await agent.login(url.toString(), 'alice');
    assert.equal(handoff.method, 'GET');
    assert.ok(handoff.url.startsWith(REDIRECT));
    assert.ok(agent.hasSession);
    const tokens = await oidc.authorizationCodeGrant(config, new URL(handoff.url), {
      pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce,
    });
    const claims = tokens.claims()!;
    assert.equal(claims.sub, 'alice');
    assert.deepEqual(claims.groups, ['devs', 'ops']);
    assert.equal(claims.email, 'alice@example.com');
    assert.ok(tokens.refresh_token);
    assert.equal(idp.counts.token, 1);

    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    assert.ok(refreshed.refresh_token && refreshed.refresh_token !== tokens.refresh_token, 'rotated');
    assert.equal(idp.counts.refresh, 1);
    await assert.rejects(oidc.refreshTokenGrant(config, tokens.refresh_token!), 'a used refresh token is refused');
    assert.equal(idp.counts.refreshFailed, 1);

    const end = oidc.buildEndSessionUrl(config, { id_token_hint: refreshed.id_token!, post_logout_redirect_uri: POST_LOGOUT });
    const out = await agent.logout(end.toString());
    assert.equal(out.url, POST_LOGOUT);
    assert.equal(idp.counts.endSession, 1);
    assert.equal(agent.hasSession, false);
  });

  test('form_post handoff', async () => {
    const config = await oidc.discovery(new URL(idp.issuer), 'app', undefined, oidc.ClientSecretBasic('app-secret'));
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT, scope: 'openid', response_mode: 'form_post', state: 's1', nonce: 'n1',
      code_challenge: await oidc.calculatePKCECodeChallenge('v'.repeat(43)), code_challenge_method: 'S256',
    });
    const handoff = await idp.loginWith(url.toString(), 'bob');
    assert.equal(handoff.method, 'POST');
    assert.equal(handoff.url, REDIRECT);
    const body = new URLSearchParams(handoff.body);
    assert.equal(body.get('state'), 's1');
    assert.ok(body.get('code'));
  });
});
