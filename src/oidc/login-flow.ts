/**
 * The login flow as three pieces the decision core plugs in:
 * - `flow`: the FlowStage answering /login, /logout, /oauth/login/{p} and
 *   /oauth/callback/{p} (every other path costs one character compare and
 *   is answered at once, without a promise);
 * - `loginRedirect`: the respond stage's hook turning a 401 for a browser
 *   navigation into a 302 to the provider (one configured) or the sign-in page;
 * - `sessionAuthenticator`: the `session` authenticator, with refresh.
 */
import type { Authenticator } from '../authn/authenticator.js';
import { createSessionAuthenticator } from '../authn/session-authenticator.js';
import type { Config } from '../config/types.js';
import type { AuthRequest } from '../core/auth-request.js';
import type { FlowStage } from '../core/decide.js';
import type { Decision } from '../core/decision.js';
import type { RespondContext } from '../core/respond.js';
import { isBrowserNavigation } from './browser-navigation.js';
import { createFlowContext, type FlowContext, type LoginFlowDeps } from './flow-context.js';
import { jsonError, redirectTo } from './flow-responses.js';
import { LOGIN_FAILED } from './flow-reasons.js';
import { finishLogin } from './login-callback.js';
import { showLoginPage, submitLoginForm } from './login-form.js';
import { startLogin } from './login-start.js';
import { logout } from './logout.js';
import { requestReturnPath } from './return-path.js';
import { refreshSession } from './session-refresh.js';

export type { LoginFlowDeps } from './flow-context.js';

export interface LoginFlow {
  readonly flow: FlowStage;
  /** null when there is nothing to log in with (no provider, Basic off). */
  readonly loginRedirect: RespondContext['loginRedirect'];
  readonly sessionAuthenticator: Authenticator;
}

/**
 * Whether `path` can be one of the login flow's own: they all start with
 * "/l" (/login, /logout) or "/o" (/oauth/…, the logout channels of
 * sessions-store.ts). Every request is asked this first, so it is one compare.
 */
export function mayBeFlowPath(path: string): boolean {
  const second = path.charCodeAt(1);
  return second === 0x6c /* l */ || second === 0x6f /* o */;
}

const LOGIN_PREFIX = '/oauth/login/';
const CALLBACK_PREFIX = '/oauth/callback/';

function providerSegment(path: string, prefix: string): string {
  const rest = path.slice(prefix.length);
  return rest.includes('/') ? '' : rest;
}

function methodNotAllowed(req: AuthRequest, allow: string): Decision {
  return jsonError(req, 405, LOGIN_FAILED, 'method not allowed', 'flow', [['allow', allow]]);
}

async function answer(ctx: FlowContext, req: AuthRequest, canLogIn: boolean): Promise<Decision | undefined> {
  const path = req.path;
  const get = req.method === 'GET' || req.method === 'HEAD';
  if (path === '/login') {
    if (!canLogIn) return undefined;
    if (get) return showLoginPage(ctx, req);
    return req.method === 'POST' ? submitLoginForm(ctx, req) : methodNotAllowed(req, 'GET, POST');
  }
  if (path === '/logout') return logout(ctx, req);
  if (path.startsWith(LOGIN_PREFIX)) {
    return get ? startLogin(ctx, req, providerSegment(path, LOGIN_PREFIX)) : methodNotAllowed(req, 'GET');
  }
  if (path.startsWith(CALLBACK_PREFIX)) {
    return get || req.method === 'POST' ? finishLogin(ctx, req, providerSegment(path, CALLBACK_PREFIX)) : methodNotAllowed(req, 'GET, POST');
  }
  return undefined;
}

export function createLoginFlow(config: Config, deps: LoginFlowDeps): LoginFlow {
  const ctx = createFlowContext(config, deps);
  const providerNames = ctx.providers.names;
  const canLogIn = providerNames.length > 0 || config.basicAuth.enabled;

  // Hot path: every request passes here, and all but the flow's own are answered at once.
  const flow: FlowStage = (req) => (mayBeFlowPath(req.path) ? answer(ctx, req, canLogIn) : undefined);

  const loginRedirect: RespondContext['loginRedirect'] = canLogIn
    ? (req, rule, reason) => {
        if (!isBrowserNavigation(req)) return undefined;
        const returnTo = encodeURIComponent(requestReturnPath(req.path, req.query));
        const location = providerNames.length === 1
          ? `${LOGIN_PREFIX}${encodeURIComponent(providerNames[0]!)}?redirect=${returnTo}`
          : `/login?redirect=${returnTo}`;
        // A session that failed (expired, bad, refresh refused) is cleared so the browser stops sending it.
        const scope = ctx.sessionScope(req);
        const cookies = reason === 'no_credentials' ? [] : [...ctx.sessions.clear(scope, req.cookies), ctx.refreshCookies.clear(scope)];
        const d = redirectTo(req, location, cookies, 'login_redirect', 'login-redirect', `login required (${reason})`);
        return { ...d, ruleId: rule.id, ruleLabel: rule.label, metadata: { rule: rule.id, reason: 'login_redirect', cause: reason } };
      }
    : null;

  const sessionAuthenticator = createSessionAuthenticator({
    sessions: ctx.sessions,
    refreshCookies: ctx.refreshCookies,
    usersStore: ctx.usersStore,
    basicEnabled: config.basicAuth.enabled,
    ended: ctx.endedSessions,
    now: ctx.now,
    isProvider: (name) => ctx.providers.get(name) !== undefined,
    renew: async (req, record, grant) => {
      const outcome = await refreshSession(ctx, req, record, grant);
      return outcome.kind === 'ok' ? { kind: 'ok', record: outcome.issue.record, cookies: outcome.issue.cookies } : { kind: 'failed' };
    },
  });

  return Object.freeze({ flow, loginRedirect, sessionAuthenticator });
}
