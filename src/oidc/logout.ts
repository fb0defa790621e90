/**
 * `/logout`: POST (GET too with `micronaut.security.endpoints.logout.get-allowed`).
 * Clears our cookies (session, chunks, refresh) with the same Path/Domain they
 * were set with; then, for an OIDC session whose provider advertises an
 * `end_session_endpoint` (and `end-session.enabled` is not false), 302 to it
 * with `id_token_hint` (when the refresh cookie still holds the ID token) and
 * `post_logout_redirect_uri=<external-url>/logout` — the URI the Kestra SSO
 * guides tell operators to register. Otherwise 302 to `/`.
 *
 * No loop: the IdP sends the browser back to `GET /logout` with our cookies
 * already gone; a GET /logout without a session cookie only lands on `/`
 * (this is allowed even when GET logout is not, since it changes nothing).
 * A GET /logout that carries a session while GET is not allowed gets 405:
 * a link or image on another site must not be able to log users out.
 */
import * as oidc from 'openid-client';
import type { AuthRequest } from '../core/auth-request.js';
import type { Decision, HeaderPair } from '../core/decision.js';
import type { FlowContext } from './flow-context.js';
import { FLOW_ANSWER, LOGIN_FAILED } from './flow-reasons.js';
import { jsonError, redirectTo } from './flow-responses.js';
import { isSameOrigin } from './same-origin.js';

export async function logout(ctx: FlowContext, req: AuthRequest): Promise<Decision> {
  const hasSession = req.cookies.has(ctx.sessions.name) || req.cookies.has(ctx.refreshCookies.name);
  if (req.method === 'GET' || req.method === 'HEAD') {
    if (!hasSession) return redirectTo(req, '/', [], FLOW_ANSWER, 'logout', 'logged out');
    if (!ctx.config.logout.getAllowed) {
      return jsonError(req, 405, LOGIN_FAILED, 'logout needs a POST (GET /logout is not allowed)', 'logout', [['allow', 'POST']]);
    }
  } else if (req.method === 'POST') {
    if (!isSameOrigin(req, ctx.config.externalUrl)) return jsonError(req, 403, LOGIN_FAILED, 'cross-site request refused', 'logout');
  } else {
    return jsonError(req, 405, LOGIN_FAILED, 'method not allowed', 'logout', [['allow', ctx.config.logout.getAllowed ? 'GET, POST' : 'POST']]);
  }

  const scope = ctx.sessionScope(req);
  const cookies: HeaderPair[] = [...ctx.sessions.clear(scope, req.cookies), ctx.refreshCookies.clear(scope)];
  // An expired session still names its provider: logging out at the IdP is still wanted.
  const read = await ctx.sessions.read(req.cookies, Math.floor(ctx.now() / 1000));
  const record = read.kind === 'ok' || read.kind === 'expired' ? read.record : undefined;
  const provider = record && record.provider ? ctx.providers.get(record.provider) : undefined;
  const base = ctx.baseUrl(req);
  if (record && read.kind === 'ok' && ctx.endedSessions) {
    // A copy of the cookie must not outlive the logout (on every replica when the list is shared).
    try {
      await ctx.endedSessions.end(record.sid, record.expiresAt);
    } catch {
      ctx.logger?.warn({ user: record.name }, 'logout: the shared logout list is unavailable; the session was not ended');
      return jsonError(req, 503, 'store_unavailable', 'the session store is unavailable: the session could not be ended, try again', 'logout', [['retry-after', '2']]);
    }
  }
  if (record) ctx.logger?.info({ user: record.name, provider: record.provider || undefined }, 'logout');
  if (!provider || provider.settings.endSessionEnabled === false || !base) {
    return redirectTo(req, '/', cookies, FLOW_ANSWER, 'logout', 'logged out');
  }
  let location = '/';
  try {
    const client = await provider.client();
    if (client.serverMetadata().end_session_endpoint) {
      const grant = await ctx.refreshCookies.read(req.cookies, record!.sid);
      const params: Record<string, string> = { post_logout_redirect_uri: `${base}/logout`, client_id: provider.settings.clientId };
      if (grant?.idToken) params.id_token_hint = grant.idToken;
      location = oidc.buildEndSessionUrl(client, params).toString();
    }
  } catch {
    // IdP unreachable: the local session still ends; the IdP session ends when it expires there.
    ctx.logger?.warn({ provider: provider.name }, 'logout: provider unreachable, local session ended only');
  }
  return redirectTo(req, location, cookies, FLOW_ANSWER, 'logout', 'logged out');
}
