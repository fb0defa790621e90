/**
 * Builds the things an Engine needs from the outside — users store, lockout
 * tracker, one JWKS cache per issuer — and the Engine itself from one config
 * snapshot. Services outlive an engine so a config reload (a new engine)
 * keeps warm caches and store connections.
 */
import type { Logger } from 'pino';
import type { Authenticator } from '../authn/authenticator.js';
import { BasicAuthenticator } from '../authn/basic-auth.js';
import type { GivenIdentities } from '../authn/given-identity.js';
import { createBearerAuthenticator } from '../authn/bearer-jwt.js';
import type { JwksCache } from '../authn/jwks-cache.js';
import { reuseJwksCaches, startJwksCaches } from '../authn/jwks-caches.js';
import type { LockoutStore } from '../authn/lockout-store.js';
import { openLockoutStore } from '../stores/open-lockout-store.js';
import type { Config } from '../config/types.js';
import { createEngine, type Engine } from '../core/decide.js';
import type { RespondContext } from '../core/respond.js';
import { createLoginFlow } from '../oidc/login-flow.js';
import { createOidcProviderCache, type OidcProviderCache } from '../oidc/providers.js';
import { openUsersStore } from '../stores/open-users-store.js';
import type { UsersStore } from '../stores/users-store.js';
import { DependencyHealth, usersStoreProbe } from './dependency-health.js';
import { createFlowContext } from '../oidc/flow-context.js';
import { createShadowEvaluator, type ShadowEvaluator } from './shadow-evaluator.js';
import { openSessionsStore, sessionCodecsFor, withSessionsStore, type SessionsStore } from './sessions-store.js';
import { groupLockoutStore } from './group-lockout.js';
import type { WorkerLink } from './worker-link.js';
import { IdentityKeyRing } from '../identity/key-ring.js';
import type { IdentityTokens } from '../identity/identity-tokens.js';
import { identityTokensFor } from '../identity/identity-token-setup.js';
import { SigningKeyError } from '../identity/signing-keys.js';

export interface EngineServices {
  readonly usersStore: UsersStore;
  readonly lockout: LockoutStore;
  /** By issuer. Not readonly: a config reload (config-reload.ts) replaces it once the new engine serves. */
  jwks: ReadonlyMap<string, JwksCache>;
  /** OIDC discovery per provider, shared by every engine so a reload keeps it. */
  readonly oidcProviders: OidcProviderCache;
  readonly logger: Logger;
  /**
   * Named probes of the stores (each store adds its own: `users`, `sessions`…),
   * polled every second by service.ts to drive /readyz and gRPC health.
   * Optional so a hand-built EngineServices needs none.
   */
  readonly health?: DependencyHealth;
  /** `authz.sessions`: the Redis store, or the cookie store's back-channel revocation list (sessions-store.ts). */
  readonly sessionsStore?: SessionsStore;
  /** The identity token's keys (authz.identity-token), kept across reloads so a replaced key stays published. */
  readonly identityKeys?: IdentityKeyRing;
  /** Resolves when the stores answer; starts JWKS fetches without waiting for them. */
  warmUp(): Promise<void>;
  close(): Promise<void>;
}

/** `group`: this process is a `serve --workers N` worker; in-memory lockout and logout lists are then the group's (in the primary). */
export function createEngineServices(config: Config, logger: Logger, group?: WorkerLink): EngineServices {
  const usersStore = openUsersStore(config.users);
  // Shared in PostgreSQL when the users are (one threshold across replicas), else in memory — the primary's with workers.
  const lockout = openLockoutStore(config.lockout, usersStore, config.sourceLockout, undefined,
    group ? (role, options) => groupLockoutStore(group, role, options) : undefined);
  const { caches: jwks } = reuseJwksCaches(config.bearer);
  const oidcProviders = createOidcProviderCache({ logger });
  const health = new DependencyHealth();
  health.add('users', usersStoreProbe(usersStore));
  // Sessions store (issue 4A): opened once (last, so nothing after it can throw and leak its connections), kept across reloads.
  const sessionsStore = openSessionsStore(config, logger, group);
  health.add('sessions', () => sessionsStore.healthy());
  const services: EngineServices = {
    identityKeys: new IdentityKeyRing(),
    usersStore,
    lockout,
    jwks,
    oidcProviders,
    logger,
    health,
    sessionsStore,
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
      await sessionsStore.warmUp();
      await usersStore.list();
    },
    async close() {
      // services.jwks, not the start-up map: a reload may have replaced it.
      for (const cache of services.jwks.values()) cache.close();
      await usersStore.close();
      await sessionsStore.close();
    },
  };
  return services;
}

export interface BuildEngineOptions {
  /**
   * Identities given beside requests, asked first (given-identity.ts): policy
   * tests, replay and shadow evaluation. Absent when serving: then the chain
   * is exactly session → Bearer → Basic (→ mtls, which the engine appends).
   */
  readonly givenIdentities?: GivenIdentities;
}

interface AssembleOptions extends BuildEngineOptions {
  readonly identityTokens?: IdentityTokens;
}

/** `jwks` defaults to the services' caches; a reload passes the set built for the new config. */
export function buildEngine(
  config: Config,
  services: EngineServices,
  jwks: ReadonlyMap<string, JwksCache> = services.jwks,
  options: BuildEngineOptions = {},
): Engine {
  return assemble(config, services, jwks, options).engine;
}

/** What serves one config snapshot: the engine, and the shadow policy beside it when one is configured. */
export interface Serving {
  readonly engine: Engine;
  readonly shadow?: ShadowEvaluator;
  /** The login redirect the engine answers anonymous page requests with (`explain` decides the shadow policy with it). */
  readonly loginRedirect?: RespondContext['loginRedirect'];
}

/** The engine `serve` answers with, and its shadow evaluator (authz.shadow, rules' `shadow: true`). */
export function buildServing(config: Config, services: EngineServices, jwks: ReadonlyMap<string, JwksCache> = services.jwks): Serving {
  // Only the serving engine signs: explain, policy tests and the shadow policy never do.
  const identityTokens = services.identityKeys === undefined ? undefined : identityTokensFor(config, services.identityKeys);
  if (config.identityToken.enabled && identityTokens === undefined) throw new SigningKeyError('authz.identity-token is enabled but these services hold no key ring');
  const { engine, loginRedirect } = assemble(config, services, jwks, { identityTokens });
  return { engine, loginRedirect, shadow: createShadowEvaluator(config, { loginRedirect, logger: services.logger }) };
}

function assemble(
  config: Config,
  services: EngineServices,
  jwks: ReadonlyMap<string, JwksCache>,
  options: AssembleOptions,
): { readonly engine: Engine; readonly loginRedirect: RespondContext['loginRedirect'] } {
  // Sessions store (issue 4A): Redis session codecs in the login flow, back-channel logout, the matching session authenticator.
  const store = services.sessionsStore;
  const sessionCodecs = store ? sessionCodecsFor(config, store) : undefined;
  const loginDeps = {
    providers: services.oidcProviders.providersFor(config),
    usersStore: services.usersStore,
    lockout: services.lockout,
    logger: services.logger,
    sessionCodecs,
    endedSessions: store?.ended,
  };
  const login = createLoginFlow(config, loginDeps);
  const sessions = store ? withSessionsStore(store, login, createFlowContext(config, loginDeps), sessionCodecs) : login;
  // Chain order: session cookie → Bearer JWT → Basic; the first whose credential is present decides.
  const authenticators: Authenticator[] = options.givenIdentities ? [options.givenIdentities] : [];
  authenticators.push(sessions.sessionAuthenticator);
  const bearer = createBearerAuthenticator(config, jwks);
  if (bearer) authenticators.push(bearer);
  authenticators.push(new BasicAuthenticator({
    store: services.usersStore,
    lockout: services.lockout,
    enabled: config.basicAuth.enabled,
  }));
  const engine = createEngine(config, {
    authenticators, flow: sessions.flow, loginRedirect: login.loginRedirect,
    ...(options.identityTokens === undefined ? {} : { identityTokens: options.identityTokens }),
  });
  return { engine, loginRedirect: login.loginRedirect };
}
