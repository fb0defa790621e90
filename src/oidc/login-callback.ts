/**
 * `GET|POST /oauth/callback/{provider}`: finishes a login. In order:
 * 1. the state cookie for this `state` exists, is ours, unexpired, and was
 *    made for this provider — else `state_invalid` (also covers a missing
 *    state, a replayed callback after the cookie is gone, a mix-up between
 *    providers);
 * 2. code exchange with the PKCE verifier; openid-client checks the
 *    authorization response (state, `iss`), the token response, and the ID
 *    token (signature, iss, aud, exp, nonce);
 * 3. claims → session cookies (+ refresh cookie), state cookie expired,
 *    302 to the return path kept in the state cookie (same-origin only).
 * Every outcome is counted in oidc_logins_total{provider,result}.
 */
import * as oidc from 'openid-client';
import { newSessionId, SessionTooLargeError } from '../authn/session-cookie.js';
import type { AuthRequest } from '../core/auth-request.js';
import type { Decision, HeaderPair } from '../core/decision.js';
import { oidcLoginsTotal } from '../observability/metrics.js';
import { oidcLoginDuration } from '../observability/oidc-metrics.js';
import { classifyLoginError } from './classify-error.js';
import type { FlowContext } from './flow-context.js';
import { FLOW_ANSWER, IDP_UNAVAILABLE, LOGIN_FAILED, type LoginResult } from './flow-reasons.js';
import { htmlAnswer, redirectTo } from './flow-responses.js';
import { renderProblemPage } from './login-page.js';
import type { LoginState } from './login-state.js';
import { issueSession, UnusableIdTokenError } from './session-from-tokens.js';

const MESSAGES: Record<Exclude<LoginResult, 'success'>, string> = {
  state_invalid: 'This sign-in link is no longer valid (it expired, was already used, or was started in another browser).',
  code_invalid: 'The sign-in provider did not accept the authorization code.',
  idp_error: 'The sign-in provider refused or cancelled the sign-in.',
  id_token_invalid: 'The sign-in provider returned an identity that cannot be accepted.',
  idp_unavailable: 'The sign-in provider cannot be reached right now.',
};

function failure(
  req: AuthRequest,
  providerName: string,
  result: Exclude<LoginResult, 'success'>,
  cookies: HeaderPair[],
  returnTo = '/',
): Decision {
  oidcLoginsTotal.inc({ provider: providerName, result });
  const unavailable = result === 'idp_unavailable';
  const retry = `/oauth/login/${encodeURIComponent(providerName)}?redirect=${encodeURIComponent(returnTo)}`;
  const headers: HeaderPair[] = unavailable ? [['retry-after', '5'], ...cookies] : cookies;
  return htmlAnswer(
    req,
    unavailable ? 503 : 400,
    unavailable ? IDP_UNAVAILABLE : LOGIN_FAILED,
    `login failed: ${result}`,
    renderProblemPage('Sign-in failed', MESSAGES[result], retry),
    headers,
    'callback',
  );
}

/** Authorization-response parameters: the query (GET) or the form body (form_post). */
function responseParams(req: AuthRequest): URLSearchParams | undefined {
  if (req.method === 'GET' || req.method === 'HEAD') return new URLSearchParams(req.query);
  if (req.method !== 'POST') return undefined;
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  return type === 'application/x-www-form-urlencoded' ? new URLSearchParams(req.body) : undefined;
}

export async function finishLogin(ctx: FlowContext, req: AuthRequest, providerName: string): Promise<Decision> {
  const provider = ctx.providers.get(providerName);
  if (!provider) {
    return htmlAnswer(req, 404, LOGIN_FAILED, 'unknown login provider', renderProblemPage('Unknown sign-in provider', 'This sign-in provider is not configured.', '/login'), [], 'callback');
  }
  const params = responseParams(req);
  if (!params) return failure(req, provider.name, 'state_invalid', []);
  const state = params.get('state');
  const secure = ctx.secure(req);
  const login: LoginState | undefined = state ? await ctx.loginStates.find(req.cookies, state, ctx.now()) : undefined;
  if (!state || !login) return failure(req, provider.name, 'state_invalid', []);
  // From here on the state cookie is spent, whatever happens: a code is good for one try.
  const spent = [ctx.loginStates.clear(state, secure)];
  if (login.provider !== provider.name) return failure(req, provider.name, 'state_invalid', spent);

  const started = process.hrtime.bigint();
  try {
    const client = await provider.client();
    const currentUrl: URL | Request = req.method === 'POST'
      ? new Request(login.redirectUri, { method: 'POST', body: params, headers: { 'content-type': 'application/x-www-form-urlencoded' } })
      : new URL(`${login.redirectUri}?${params.toString()}`);
    const tokens = await oidc.authorizationCodeGrant(client, currentUrl, {
      pkceCodeVerifier: login.verifier,
      expectedState: login.state,
      expectedNonce: login.nonce,
      idTokenExpected: true,
    });
    const nowSeconds = Math.floor(ctx.now() / 1000);
    const issued = await issueSession(ctx, req, tokens, {
      sid: newSessionId(),
      provider: provider.name,
      issuer: client.serverMetadata().issuer,
      expiresAt: nowSeconds + ctx.config.cookie.maxAgeSeconds,
      userinfo: { provider: provider.name, client, mode: provider.settings.userinfo },
    });
    oidcLoginDuration.observe({ provider: provider.name }, Number(process.hrtime.bigint() - started) / 1e9);
    oidcLoginsTotal.inc({ provider: provider.name, result: 'success' });
    ctx.logger?.info({ provider: provider.name, user: issued.record.name, groups: issued.record.groups.length }, 'OIDC login');
    return redirectTo(req, login.returnTo, [...issued.cookies, ...spent], FLOW_ANSWER, 'callback', `logged in via ${provider.name}`);
  } catch (err) {
    if (err instanceof SessionTooLargeError) {
      ctx.logger?.warn({ provider: provider.name }, 'login refused: the identity (groups) does not fit the session cookie');
      return failure(req, provider.name, 'id_token_invalid', spent, login.returnTo);
    }
    const result = classifyLoginError(err);
    const code = (err as { code?: unknown; error?: unknown }).error ?? (err as { code?: unknown }).code;
    ctx.logger?.warn(
      { provider: provider.name, result, error: typeof code === 'string' ? code : (err as Error).name, unusable: err instanceof UnusableIdTokenError },
      'OIDC login failed',
    );
    return failure(req, provider.name, result, spent, login.returnTo);
  }
}
