/**
 * `GET /oauth/login/{provider}`: starts an authorization-code login with
 * PKCE (S256), state and nonce, remembers them in a per-login state cookie,
 * and sends the browser to the IdP.
 */
import * as oidc from 'openid-client';
import type { AuthRequest } from '../core/auth-request.js';
import type { Decision } from '../core/decision.js';
import { oidcLoginsTotal } from '../observability/metrics.js';
import type { FlowContext } from './flow-context.js';
import { FLOW_ANSWER, IDP_UNAVAILABLE, LOGIN_FAILED } from './flow-reasons.js';
import { htmlAnswer, redirectTo } from './flow-responses.js';
import { renderProblemPage } from './login-page.js';
import { IdpUnavailableError } from './oidc-errors.js';
import { safeReturnPath } from './return-path.js';

export const CALLBACK_PATH = '/oauth/callback/';

export async function startLogin(ctx: FlowContext, req: AuthRequest, providerName: string): Promise<Decision> {
  const provider = ctx.providers.get(providerName);
  if (!provider) {
    return htmlAnswer(req, 404, LOGIN_FAILED, 'unknown login provider', renderProblemPage('Unknown sign-in provider', 'This sign-in provider is not configured.', '/login'), [], 'login');
  }
  const returnTo = safeReturnPath(new URLSearchParams(req.query).get('redirect'));
  const base = ctx.baseUrl(req);
  if (!base) return htmlAnswer(req, 400, LOGIN_FAILED, 'unusable Host header', renderProblemPage('Bad request', 'The request has no usable Host.', '/'), [], 'login');
  let client: oidc.Configuration;
  try {
    client = await provider.client();
  } catch (err) {
    if (!(err instanceof IdpUnavailableError)) throw err;
    oidcLoginsTotal.inc({ provider: provider.name, result: 'idp_unavailable' });
    const retry = `/oauth/login/${encodeURIComponent(provider.name)}?redirect=${encodeURIComponent(returnTo)}`;
    return htmlAnswer(req, 503, IDP_UNAVAILABLE, `provider ${provider.name} unreachable`,
      renderProblemPage('Sign-in unavailable', `The sign-in provider "${provider.name}" cannot be reached right now.`, retry), [['retry-after', '5']], 'login');
  }
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const verifier = oidc.randomPKCECodeVerifier();
  const redirectUri = `${base}${CALLBACK_PATH}${encodeURIComponent(provider.name)}`;
  const params: Record<string, string> = {
    redirect_uri: redirectUri,
    scope: provider.settings.scopes.join(' '),
    response_type: 'code',
    state,
    nonce,
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  };
  if (provider.settings.prompt) params.prompt = provider.settings.prompt;
  const location = oidc.buildAuthorizationUrl(client, params).toString();
  const cookies = await ctx.loginStates.write(
    { state, nonce, verifier, provider: provider.name, redirectUri, returnTo, createdAt: ctx.now() },
    ctx.secure(req),
    req.cookies,
  );
  return redirectTo(req, location, cookies, FLOW_ANSWER, 'login', `login at ${provider.name}`);
}
