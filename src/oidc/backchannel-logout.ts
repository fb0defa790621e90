/**
 * `POST /oauth/backchannel-logout/{provider}` — OpenID Connect Back-Channel
 * Logout 1.0: the provider tells us, server to server, that a user's session
 * there ended. We verify the `logout_token` (logout-token.ts) with the
 * provider's keys (jwks_uri from its discovery document), refuse a replayed
 * `jti`, then end the matching sessions through the SessionRevoker — on
 * every replica with the Redis store.
 *
 * Answers (§2.8): 200 when the token was good (even when no session
 * matched), 400 `{"error":"invalid_request"}` otherwise; always
 * `Cache-Control: no-store`. 503 `store_unavailable` when the session store
 * cannot be reached (the logout could not be carried out; the provider may
 * retry with a new token).
 *
 * The request must reach us with its body: the HTTP door reads it; through
 * Envoy's gRPC Check only with `with_request_body`.
 */
import type { Logger } from 'pino';
import type { AuthRequest } from '../core/auth-request.js';
import type { Decision } from '../core/decision.js';
import { SessionStoreUnavailableError, type SessionRevoker } from '../stores/session-revocations.js';
import { FLOW_ANSWER, LOGIN_FAILED } from './flow-reasons.js';
import { jsonAnswer, jsonError } from './flow-responses.js';
import { LogoutTokenError, verifyLogoutToken, type LogoutTokenKeys } from './logout-token.js';
import type { OidcProviders } from './providers.js';

export const BACKCHANNEL_LOGOUT_PREFIX = '/oauth/backchannel-logout/';
const STEP = 'backchannel-logout';

export interface BackchannelLogoutDeps {
  readonly providers: OidcProviders;
  readonly keys: LogoutTokenKeys;
  readonly revoker: SessionRevoker;
  /** Clock, epoch ms. */
  readonly now: () => number;
  readonly logger?: Logger;
}

function invalid(req: AuthRequest, description: string): Decision {
  return jsonAnswer(req, 400, LOGIN_FAILED, `back-channel logout refused: ${description}`,
    { error: 'invalid_request', error_description: description, requestId: req.id }, [], STEP);
}

function logoutTokenOf(req: AuthRequest): string | undefined {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') return undefined;
  const values = new URLSearchParams(req.body).getAll('logout_token');
  return values.length === 1 && values[0] ? values[0] : undefined;
}

export async function backchannelLogout(deps: BackchannelLogoutDeps, req: AuthRequest): Promise<Decision> {
  const name = req.path.slice(BACKCHANNEL_LOGOUT_PREFIX.length);
  if (req.method !== 'POST') return jsonError(req, 405, LOGIN_FAILED, 'method not allowed', STEP, [['allow', 'POST']]);
  const provider = name.includes('/') ? undefined : deps.providers.get(name);
  if (!provider) return invalid(req, 'unknown provider');
  const token = logoutTokenOf(req);
  if (!token) return invalid(req, 'a form body with one logout_token is required');

  let issuer: string;
  let jwksUri: string | undefined;
  try {
    const metadata = (await provider.client()).serverMetadata();
    issuer = metadata.issuer;
    jwksUri = metadata.jwks_uri;
  } catch {
    deps.logger?.warn({ provider: provider.name }, 'back-channel logout: provider metadata unavailable');
    return invalid(req, 'the provider cannot be reached to verify the token');
  }
  if (!jwksUri) return invalid(req, 'the provider publishes no jwks_uri');

  try {
    const verified = await verifyLogoutToken(token, {
      issuer,
      clientId: provider.settings.clientId,
      keys: deps.keys.for(issuer, jwksUri),
      nowMs: deps.now(),
    });
    if (!(await deps.revoker.rememberLogoutToken(provider.name, verified.jti, verified.replayableUntil))) {
      deps.logger?.warn({ provider: provider.name, problem: 'replayed' }, 'back-channel logout refused');
      return invalid(req, 'this logout token was already used');
    }
    const ended = await deps.revoker.revoke({ provider: provider.name, sid: verified.sid, sub: verified.sub });
    deps.logger?.info({ provider: provider.name, by: verified.sid ? 'sid' : 'sub', sessions: ended }, 'back-channel logout');
    return jsonAnswer(req, 200, FLOW_ANSWER, 'back-channel logout done', {}, [], STEP);
  } catch (err) {
    if (err instanceof LogoutTokenError) {
      deps.logger?.info({ provider: provider.name, problem: err.problem }, 'back-channel logout refused');
      return invalid(req, err.message);
    }
    if (err instanceof SessionStoreUnavailableError) {
      return jsonError(req, 503, 'store_unavailable', 'the session store is unavailable', STEP, [['retry-after', '2']]);
    }
    throw err;
  }
}
