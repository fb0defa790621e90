/**
 * Builds the things an Engine needs from the outside — users store, lockout
 * tracker, one JWKS cache per issuer — and the Engine itself from one config
 * snapshot. Services outlive an engine so a config reload (a new engine)
 * keeps warm caches and store connections.
 */
import type { Logger } from 'pino';
import type { Authenticator } from '../authn/authenticator.js';
import { BasicAuthenticator } from '../authn/basic-auth.js';
import { createBearerAuthenticator } from '../authn/bearer-jwt.js';
import type { JwksCache } from '../authn/jwks-cache.js';
import { reuseJwksCaches, startJwksCaches } from '../authn/jwks-caches.js';
import { LockoutTracker } from '../authn/lockout.js';
import type { Config } from '../config/types.js';
import { createEngine, type Engine } from '../core/decide.js';
import { createLoginFlow } from '../oidc/login-flow.js';
import { createOidcProviderCache, type OidcProviderCache } from '../oidc/providers.js';
import { openUsersStore } from '../stores/open-users-store.js';
import { AuthzError } from '../core/errors.js';
import type { UsersStore } from '../stores/users-store.js';

export interface EngineServices {
  readonly usersStore: UsersStore;
  readonly lockout: LockoutTracker;
  readonly jwks: ReadonlyMap<string, JwksCache>;
  /** OIDC discovery per provider, shared by every engine so a reload keeps it. */
  readonly oidcProviders: OidcProviderCache;
  readonly logger: Logger;
  /** Resolves when the stores answer; starts JWKS fetches without waiting for them. */
  warmUp(): Promise<void>;
  close(): Promise<void>;
}

export function createEngineServices(config: Config, logger: Logger): EngineServices {
  if (config.sessions.store !== 'cookie') {
    // Never pretend: a configured store this build cannot use is an error at start, not a silent fallback.
    throw new AuthzError('ERR_SESSIONS_STORE', `authz.sessions.store: ${config.sessions.store} is not available in this build yet; use { store: cookie }`);
  }
  const usersStore = openUsersStore(config.users);
  const lockout = new LockoutTracker(config.lockout);
  const { caches: jwks } = reuseJwksCaches(config.bearer);
  const oidcProviders = createOidcProviderCache({ logger });
  return {
    usersStore,
    lockout,
    jwks,
    oidcProviders,
    logger,
    async warmUp() {
      // Discovery in the background too: an IdP that is down only affects its own logins.
      void oidcProviders.providersFor(config).warmUp();
      // Not awaited: an unreachable issuer must not hold the whole service back.
      void startJwksCaches(jwks.values()).then(() => {
        for (const cache of jwks.values()) {
          if (!cache.hasKeySet) {
            logger.warn({ issuer: cache.issuer, error: cache.lastError?.code }, 'JWKS not fetched at start; this issuer stays fail-closed until it answers');
          }
        }
      });
      await usersStore.list();
    },
    async close() {
      for (const cache of jwks.values()) cache.close();
      await usersStore.close();
    },
  };
}

export function buildEngine(config: Config, services: EngineServices): Engine {
  const login = createLoginFlow(config, {
    providers: services.oidcProviders.providersFor(config),
    usersStore: services.usersStore,
    lockout: services.lockout,
    logger: services.logger,
  });
  // Chain order: session cookie → Bearer JWT → Basic; the first whose credential is present decides.
  const authenticators: Authenticator[] = [login.sessionAuthenticator];
  const bearer = createBearerAuthenticator(config, services.jwks);
  if (bearer) authenticators.push(bearer);
  authenticators.push(new BasicAuthenticator({
    store: services.usersStore,
    lockout: services.lockout,
    enabled: config.basicAuth.enabled,
  }));
  return createEngine(config, { authenticators, flow: login.flow, loginRedirect: login.loginRedirect });
}
