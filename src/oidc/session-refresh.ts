/**
 * Renews an OIDC session at its provider with the refresh token from the
 * refresh cookie. The session keeps its id and absolute expiry; identity and
 * groups follow the new ID token when one comes back. Outcomes are counted in
 * oidc_refresh_total{provider,result}.
 */
import * as oidc from 'openid-client';
import type { RefreshGrant } from '../authn/session-refresh-cookie.js';
import type { SessionRecord } from '../authn/session-cookie.js';
import type { AuthRequest } from '../core/auth-request.js';
import { oidcRefreshTotal } from '../observability/metrics.js';
import { classifyLoginError } from './classify-error.js';
import type { FlowContext } from './flow-context.js';
import type { RefreshResult } from './flow-reasons.js';
import { issueSession, type SessionIssue } from './session-from-tokens.js';

export type RefreshOutcome = { readonly kind: 'ok'; readonly issue: SessionIssue } | { readonly kind: 'failed'; readonly result: RefreshResult };

export async function refreshSession(ctx: FlowContext, req: AuthRequest, record: SessionRecord, grant: RefreshGrant): Promise<RefreshOutcome> {
  const provider = ctx.providers.get(record.provider);
  if (!provider) return { kind: 'failed', result: 'rejected' };
  let outcome: RefreshOutcome;
  try {
    const client = await provider.client();
    const tokens = await oidc.refreshTokenGrant(client, grant.refreshToken);
    const issue = await issueSession(ctx, req, tokens, {
      sid: record.sid,
      provider: record.provider,
      issuer: client.serverMetadata().issuer,
      expiresAt: record.expiresAt,
      previous: record,
      previousRefreshToken: grant.refreshToken,
      previousIdToken: grant.idToken,
      userinfo: { provider: provider.name, client, mode: provider.settings.userinfo },
    });
    outcome = { kind: 'ok', issue };
  } catch (err) {
    const result = classifyLoginError(err);
    outcome = {
      kind: 'failed',
      result: result === 'idp_unavailable' ? 'idp_unavailable' : result === 'id_token_invalid' ? 'id_token_invalid' : 'rejected',
    };
    const code = (err as { error?: unknown }).error ?? (err as { code?: unknown }).code;
    ctx.logger?.info({ provider: record.provider, result: outcome.result, error: typeof code === 'string' ? code : (err as Error).name }, 'session refresh failed');
  }
  oidcRefreshTotal.inc({ provider: record.provider, result: outcome.kind === 'ok' ? 'success' : outcome.result });
  return outcome;
}
