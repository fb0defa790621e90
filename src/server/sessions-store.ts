/**
 * `authz.sessions` in the running service:
 * - `openSessionsStore` (once per service, kept across config reloads): the
 *   Redis store and its connections, or — for the cookie store — the
 *   in-memory back-channel revocation list; plus the logout-token key sets;
 * - `withSessionsStore` (once per engine): the login flow's session codecs
 *   for Redis, the flow stage extended with back- and front-channel logout (one SessionRevoker; and, for
 *   Redis, logout ending the stored session, 503 when the store is down),
 *   and the `session` authenticator matching the store.
 */
import { timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import type { Authenticator, AuthnResult } from '../authn/authenticator.js';
import type { Config } from '../config/types.js';
import type { AuthRequest } from '../core/auth-request.js';
import type { FlowStage } from '../core/decide.js';
import type { Decision } from '../core/decision.js';
import { AuthzError } from '../core/errors.js';
import { BACKCHANNEL_LOGOUT_PREFIX, backchannelLogout, type BackchannelLogoutDeps } from '../oidc/backchannel-logout.js';
import type { FlowContext } from '../oidc/flow-context.js';
import { FRONTCHANNEL_LOGOUT_PREFIX, frontchannelLogout, type FrontchannelLogoutDeps } from '../oidc/frontchannel-logout.js';
import { jsonError } from '../oidc/flow-responses.js';
import { mayBeFlowPath, type LoginFlow } from '../oidc/login-flow.js';
import { LogoutTokenKeys } from '../oidc/logout-token.js';
import { refreshSession } from '../oidc/session-refresh.js';
import { createRedisSessionAuthenticator } from '../stores/redis-session-authenticator.js';
import { createSessionIdCookies, type ServerSessionCodecs } from '../stores/session-id-cookies.js';
import { MemoryEndedSessions, type EndedSessions } from '../stores/ended-sessions.js';
import { RedisEndedSessions } from '../stores/ended-sessions-redis.js';
import { MemorySessionRevocations, SessionStoreUnavailableError } from '../stores/session-revocations.js';
import { RedisSessionStore } from '../stores/sessions-redis.js';
import { deriveStoredSessionKeys, idpSidOf } from '../stores/stored-session.js';
import { groupEndedSessions, shareRevocationsInGroup } from './group-sessions.js';
import type { WorkerLink } from './worker-link.js';

export interface SessionsStore {
  readonly kind: 'cookie' | 'redis';
  /** store: redis */
  readonly redis?: RedisSessionStore;
  /** store: cookie — back-channel logout revocations of this process. */
  readonly revocations?: MemorySessionRevocations;
  /** store: cookie — sessions ended by /logout: this process's, or shared through Redis (`revocations`). */
  readonly ended?: EndedSessions;
  readonly logoutTokenKeys: LogoutTokenKeys;
  /** The store answers (always true for the cookie store): for /readyz and gRPC health. */
  healthy(): boolean;
  /** `listener(healthy)` on every change; returns an unsubscribe function. */
  onHealthChange(listener: (healthy: boolean) => void): () => void;
  /** Waits (bounded) for the first connection; never rejects — an unreachable store only makes sessions fail closed. */
  warmUp(): Promise<void>;
  /** Throws ERR_SESSIONS_STORE when `config` needs another store than the one open (a reload cannot switch it). */
  checkUsableFor(config: Config): void;
  close(): Promise<void>;
}

const WARM_UP_MS = 5000;

/** `group`: this process is a `serve --workers N` worker; the in-memory logout lists then reach every worker (group-sessions.ts). */
export function openSessionsStore(config: Config, logger: Logger, group?: WorkerLink): SessionsStore {
  const opened = config.sessions;
  const secret = config.secrets.session;
  const logoutTokenKeys = new LogoutTokenKeys();
  const checkUsableFor = (next: Config) => {
    const same = next.sessions.store === opened.store
      && (next.sessions.store !== 'redis' || (opened.store === 'redis' && next.sessions.url === opened.url && next.sessions.prefix === opened.prefix))
      && (next.sessions.store !== 'cookie' || (opened.store === 'cookie'
        && next.sessions.revocations?.url === opened.revocations?.url && next.sessions.revocations?.prefix === opened.revocations?.prefix))
      && (opened.store !== 'redis' || (next.secrets.session.length === secret.length && timingSafeEqual(next.secrets.session, secret)));
    if (!same) throw new AuthzError('ERR_SESSIONS_STORE', 'authz.sessions (or, with store: redis, the session secret) changed: restart the service to apply it');
  };
  if (opened.store === 'redis') {
    const redis = new RedisSessionStore({ url: opened.url, prefix: opened.prefix, keys: deriveStoredSessionKeys(secret), logger });
    return {
      kind: 'redis',
      redis,
      logoutTokenKeys,
      healthy: () => redis.healthy(),
      onHealthChange: (listener) => redis.onHealthChange(listener),
      async warmUp() {
        if (!(await redis.whenReady(WARM_UP_MS))) logger.warn('session store not reachable at start; session requests fail closed until it is');
      },
      checkUsableFor,
      async close() {
        logoutTokenKeys.close();
        await redis.close();
      },
    };
  }
  const revocations = new MemorySessionRevocations(config.cookie.maxAgeSeconds);
  const shared = opened.revocations ? new RedisEndedSessions({ ...opened.revocations, logger }) : undefined;
  shared?.carry(revocations); // back-channel logouts reach every replica too
  if (!shared && group) shareRevocationsInGroup(group, revocations);
  return {
    kind: 'cookie',
    revocations,
    ended: shared ?? (group ? groupEndedSessions(group) : new MemoryEndedSessions()),
    logoutTokenKeys,
    healthy: () => shared?.healthy() ?? true,
    onHealthChange: (listener) => shared?.onHealthChange(listener) ?? (() => undefined),
    async warmUp() {
      if (shared && !(await shared.warmUp(WARM_UP_MS))) logger.warn('shared logout list not reachable at start; cookie sessions fail closed until it is');
    },
    checkUsableFor,
    async close() {
      logoutTokenKeys.close();
      await shared?.close();
    },
  };
}

/** The login flow's session codecs for the store (undefined = the signed cookies of flow-context.ts). */
export function sessionCodecsFor(config: Config, store: SessionsStore): ServerSessionCodecs | undefined {
  store.checkUsableFor(config);
  if (!store.redis) return undefined;
  return createSessionIdCookies(config.cookie.name, deriveStoredSessionKeys(config.secrets.session).cookie, store.redis);
}

export interface SessionsStoreParts {
  readonly flow: FlowStage;
  readonly sessionAuthenticator: Authenticator;
}

const CALLBACK_PREFIX = '/oauth/callback/';

/** `ctx` must be built from the same deps (codecs included) as `login`. */
export function withSessionsStore(
  store: SessionsStore,
  login: LoginFlow,
  ctx: FlowContext,
  codecs: ServerSessionCodecs | undefined,
): SessionsStoreParts {
  const backchannel: BackchannelLogoutDeps = {
    providers: ctx.providers,
    keys: store.logoutTokenKeys,
    revoker: (store.redis ?? store.revocations)!,
    now: ctx.now,
    logger: ctx.logger,
  };
  const frontchannel: FrontchannelLogoutDeps = {
    ctx,
    revoker: backchannel.revoker,
    endBrowserSession: async (req) => {
      const id = codecs?.idOf(req.cookies);
      if (store.redis) {
        if (id) await store.redis.delete(id);
        return;
      }
      const read = await ctx.sessions.read(req.cookies, Math.floor(ctx.now() / 1000));
      if (read.kind === 'ok' && store.ended) await store.ended.end(read.record.sid, read.record.expiresAt);
    },
  };
  const storeDown = (req: AuthRequest, step: string) =>
    jsonError(req, 503, 'store_unavailable', 'the session store is unavailable', step, [['retry-after', '2']]);

  const redis = store.redis;
  const storeFlow = async (req: AuthRequest): Promise<Decision | undefined> => {
    if (req.path.startsWith(BACKCHANNEL_LOGOUT_PREFIX)) return backchannelLogout(backchannel, req);
    if (req.path.startsWith(FRONTCHANNEL_LOGOUT_PREFIX)) return frontchannelLogout(frontchannel, req);
    if (!redis || !codecs) return login.flow(req);
    // Do not spend an authorization code on a login whose session could not be stored.
    if (req.path.startsWith(CALLBACK_PREFIX) && !redis.healthy()) return storeDown(req, 'callback');
    try {
      const decision = await login.flow(req);
      if (decision && req.path === '/logout' && decision.status === 302) {
        const id = codecs.idOf(req.cookies);
        if (id) await redis.delete(id); // ended on every replica, not only in this browser
      }
      return decision;
    } catch (err) {
      if (err instanceof SessionStoreUnavailableError) return storeDown(req, 'flow');
      throw err;
    }
  };
  // Every other path (the logout channels start with "/o" too) is answered at once, as login.flow answers it.
  const flow: FlowStage = (req) => (mayBeFlowPath(req.path) ? storeFlow(req) : undefined);

  if (redis && codecs) {
    const sessionAuthenticator = createRedisSessionAuthenticator({
      codecs,
      store: redis,
      usersStore: ctx.usersStore,
      basicEnabled: ctx.config.basicAuth.enabled,
      now: ctx.now,
      isProvider: (name) => ctx.providers.get(name) !== undefined,
      renew: async (req, record, grant) => {
        const outcome = await refreshSession(ctx, req, record, grant);
        return outcome.kind === 'ok' ? { kind: 'ok' } : { kind: 'failed', result: outcome.result };
      },
    });
    return { flow, sessionAuthenticator };
  }
  return { flow, sessionAuthenticator: withRevocationList(login.sessionAuthenticator, store.revocations!, ctx) };
}

const REVOKED: AuthnResult = Object.freeze({ kind: 'fail', reason: 'session_invalid', description: 'the session was ended by the identity provider', scheme: 'Bearer' });

/** Cookie store: refuses sessions a back-channel logout of this process ended. Costs nothing while the list is empty. */
function withRevocationList(inner: Authenticator, revocations: MemorySessionRevocations, ctx: FlowContext): Authenticator {
  return {
    name: inner.name,
    authenticate(req) {
      // At once (the inner authenticator's own answer) while the list is empty or no session cookie came.
      if (revocations.size === 0 || !req.cookies.has(ctx.sessions.name)) return inner.authenticate(req);
      return checkRevoked(req);
    },
  };

  async function checkRevoked(req: AuthRequest): Promise<AuthnResult> {
    const read = await ctx.sessions.read(req.cookies, Math.floor(ctx.now() / 1000));
    if ((read.kind === 'ok' || read.kind === 'expired') && read.record.provider !== '') {
      const record = read.record;
      const grant = await ctx.refreshCookies.read(req.cookies, record.sid);
      const revoked = revocations.isRevoked({
        provider: record.provider,
        subject: record.subject,
        // expiresAt = login + cookie-max-age (a refresh does not extend it).
        loginAt: record.expiresAt - ctx.config.cookie.maxAgeSeconds,
        idpSid: record.idpSid ?? idpSidOf(grant?.idToken),
      });
      if (revoked) return REVOKED;
    }
    return inner.authenticate(req);
  }
}
