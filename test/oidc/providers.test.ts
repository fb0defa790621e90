/**
 * Providers: an IdP down at start blocks nothing and answers 503 at login;
 * it is retried after a back-off; unchanged providers survive a reload.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LockoutTracker } from '../../src/authn/lockout.js';
import { parseConfig } from '../../src/config/load-config.js';
import { createAuthRequest } from '../../src/core/auth-request.js';
import { createLoginFlow } from '../../src/oidc/login-flow.js';
import { createOidcProviderCache } from '../../src/oidc/providers.js';
import { IdpUnavailableError } from '../../src/oidc/oidc-errors.js';
import { openUsersStore } from '../../src/stores/open-users-store.js';
import { startOidcIdp } from '../helpers/oidc-idp.js';
import { freePort } from '../helpers/free-port.js';

function configFor(issuer: string, extra = '', clientId = 'app') {
  return parseConfig(`
micronaut:
  security:
    oauth2:
      enabled: true
      clients:
        down: { client-id: ${clientId}, client-secret: s, openid: { issuer: "${issuer}" }${extra} }
authz:
  external-url: https://app.test
  users: { file: /nonexistent/users.yaml }
`, 'providers-test.yaml', {});
}

describe('OIDC providers', () => {
  test('IdP down: login answers 503 with a retry page; after the back-off a reachable IdP is discovered', async () => {
    const port = await freePort();
    const issuer = `https://127.0.0.1:${port}`;
    let clock = 1_000_000;
    const cache = createOidcProviderCache({ now: () => clock, retryDelayMs: 1000, timeoutSeconds: 2 });
    const config = configFor(issuer);
    const providers = cache.providersFor(config);
    providers.warmUp();
    await assert.rejects(providers.get('down')!.client(), IdpUnavailableError);
    // During the back-off: fails fast without a network call.
    await assert.rejects(providers.get('down')!.client(), IdpUnavailableError);

    const flow = createLoginFlow(config, {
      providers, usersStore: openUsersStore(config.users), lockout: new LockoutTracker(config.lockout), now: () => clock,
    });
    const req = createAuthRequest({ method: 'GET', scheme: 'https', host: 'app.test', path: '/oauth/login/down', headers: {} })!;
    const d = await flow.flow(req);
    assert.equal(d?.status, 503);
    assert.match(d!.body, /cannot be reached/);

    // The IdP comes up on that port; after the back-off the next login discovers it.
    const idp = await startOidcIdp({ port, clients: [{ client_id: 'app', client_secret: 's', redirect_uris: ['https://app.test/oauth/callback/down'] }] });
    try {
      clock += 60_000;
      const client = await providers.get('down')!.client();
      assert.equal(client.serverMetadata().issuer, issuer);
    } finally {
      await idp.stop();
    }
  });

  test('a reload with the same provider settings reuses discovery; changed settings rediscover', async () => {
    const idp = await startOidcIdp({ clients: [{ client_id: 'app', client_secret: 's', redirect_uris: ['https://app.test/oauth/callback/down'] }] });
    try {
      const cache = createOidcProviderCache();
      const first = await cache.providersFor(configFor(idp.issuer)).get('down')!.client();
      const again = await cache.providersFor(configFor(idp.issuer, ', scopes: [openid, email]')).get('down')!.client();
      assert.equal(again, first, 'same discovered configuration object');
      const reloaded = cache.providersFor(configFor(idp.issuer, ', scopes: [openid, email]'));
      assert.deepEqual(reloaded.get('down')!.settings.scopes, ['openid', 'email'], 'current settings are used');
      const changed = await cache.providersFor(configFor(idp.issuer, '', 'other-app')).get('down')!.client();
      assert.notEqual(changed, first);
    } finally {
      await idp.stop();
    }
  });
});

