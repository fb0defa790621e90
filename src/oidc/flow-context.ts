/**
 * What every login-flow handler shares, built once per config snapshot:
 * cookies codecs with their derived keys, the providers, the clock, and the
 * answer to "what is our external URL" for this request.
 */
import type { Logger } from 'pino';
import { BasicAuthenticator } from '../authn/basic-auth.js';
import type { LockoutStore } from '../authn/lockout-store.js';
import { createRefreshCookies, type RefreshCookies } from '../authn/session-refresh-cookie.js';
import { createSessionCookies, type SessionCookies } from '../authn/session-cookie.js';
import { deriveSessionKeys } from '../authn/session-keys.js';
import { sessionCookieScope, type CookieScope } from '../authn/session-set-cookie.js';
import type { Config } from '../config/types.js';
import type { AuthRequest } from '../core/auth-request.js';
import type { EndedSessions } from '../stores/ended-sessions.js';
import type { UsersStore } from '../stores/users-store.js';
import { createLoginStates, type LoginStates } from './login-state.js';
import type { OidcProviders } from './providers.js';

export interface LoginFlowDeps {
  readonly providers: OidcProviders;
  readonly usersStore: UsersStore;
  readonly lockout: LockoutStore;
  /** Clock, epoch ms (default Date.now). */
  readonly now?: () => number;
  readonly logger?: Logger;
  /**
   * Session codecs of a server-side store (`authz.sessions.store: redis`,
   * src/stores/session-id-cookies.ts); undefined = the signed cookies below.
   */
  readonly sessionCodecs?: { readonly sessions: SessionCookies; readonly refreshCookies: RefreshCookies };
  /** Cookie store: the sessions ended by a logout (this process's, or shared through Redis). */
  readonly endedSessions?: EndedSessions;
}

export interface FlowContext {
  readonly config: Config;
  readonly providers: OidcProviders;
  readonly usersStore: UsersStore;
  readonly sessions: SessionCookies;
  readonly refreshCookies: RefreshCookies;
  readonly loginStates: LoginStates;
  /** Checks Basic-form credentials with the users store and the shared lockout. */
  readonly basic: BasicAuthenticator;
  readonly now: () => number;
  readonly logger?: Logger;
  /** Cookie store: logout ends the session's `sid` here; the session authenticator refuses it. */
  readonly endedSessions?: EndedSessions;
  /** `<external-url>` or, when not configured, scheme://host of the request; undefined for an unusable Host. */
  baseUrl(req: AuthRequest): string | undefined;
  /** Scope (Path/Domain/Secure/SameSite) of the session and refresh cookies for this request. */
  sessionScope(req: AuthRequest): CookieScope;
  /** Secure flag for the login-state cookies. */
  secure(req: AuthRequest): boolean;
}

// Host[:port], bracketed IPv6 allowed; nothing that could smuggle a path, userinfo or another scheme.
const HOST = /^(?:[a-z0-9-]+(?:\.[a-z0-9-]+)*|\[[0-9a-f:.]+\])(?::\d{1,5})?$/;

export function createFlowContext(config: Config, deps: LoginFlowDeps): FlowContext {
  const keys = deriveSessionKeys(config.secrets);
  const external = config.externalUrl?.replace(/\/+$/, '');
  let warned = false;
  const baseUrl = (req: AuthRequest): string | undefined => {
    if (external) return external;
    if (!HOST.test(req.host) || (req.scheme !== 'http' && req.scheme !== 'https')) return undefined;
    if (!warned) {
      warned = true;
      deps.logger?.warn({ host: req.host }, 'authz.external-url is not set: login redirect URIs are derived from the request Host; set it in production');
    }
    return `${req.scheme}://${req.host}`;
  };
  return {
    config,
    providers: deps.providers,
    usersStore: deps.usersStore,
    sessions: deps.sessionCodecs?.sessions ?? createSessionCookies(config.cookie.name, keys.session),
    refreshCookies: deps.sessionCodecs?.refreshCookies ?? createRefreshCookies(config.cookie.name, keys.refresh),
    loginStates: createLoginStates(keys.loginState),
    basic: new BasicAuthenticator({ store: deps.usersStore, lockout: deps.lockout, enabled: config.basicAuth.enabled }),
    now: deps.now ?? Date.now,
    logger: deps.logger,
    endedSessions: deps.endedSessions,
    baseUrl,
    sessionScope: (req) => sessionCookieScope(config.cookie, external, req.scheme),
    secure: (req) => (external ? external.startsWith('https:') : req.scheme === 'https'),
  };
}
