/**
 * A token-endpoint response (code exchange or refresh) → the session record
 * and the Set-Cookie lines that carry it.
 *
 * Identity comes from the ID token's claims (already checked by
 * openid-client: signature, iss, aud, exp, nonce), completed by the
 * userinfo response when configured (userinfo-claims.ts). When they hold no groups
 * at the groups-claim-path and the access token is a JWT from the same
 * issuer, its claims are used for groups — Keycloak puts
 * `resource_access.<client>.roles` there by default. That token came straight
 * from the token endpoint over TLS, which authenticates it (OIDC Core
 * §3.1.3.7), so it is decoded, not re-verified.
 */
import { decodeJwt } from 'jose';
import type { TokenEndpointResponse, TokenEndpointResponseHelpers } from 'openid-client';
import { groupsFromClaims, identityFromClaims } from '../authn/claims-identity.js';
import type { SessionRecord } from '../authn/session-cookie.js';
import type { AuthRequest } from '../core/auth-request.js';
import type { HeaderPair } from '../core/decision.js';
import type { FlowContext } from './flow-context.js';
import { withUserinfo, type UserinfoSource } from './userinfo-claims.js';

export type Tokens = TokenEndpointResponse & TokenEndpointResponseHelpers;

export interface SessionIssue {
  readonly record: SessionRecord;
  readonly cookies: HeaderPair[];
}

/** The ID token's claims cannot make an identity (no `sub`, or another subject than the session's). */
export class UnusableIdTokenError extends Error {
  readonly code = 'ERR_ID_TOKEN_UNUSABLE' as const;
  constructor(message: string) {
    super(message);
    this.name = 'UnusableIdTokenError';
  }
}

export interface SessionBasis {
  readonly sid: string;
  readonly provider: string;
  readonly issuer: string;
  /** Absolute end of the session, epoch seconds. */
  readonly expiresAt: number;
  /** On refresh: the session being renewed (kept when no new ID token came). */
  readonly previous?: SessionRecord;
  /** On refresh: the refresh token in use (kept when the IdP did not rotate it). */
  readonly previousRefreshToken?: string;
  readonly previousIdToken?: string;
  /** Where and when to ask userinfo (userinfo-claims.ts); absent = never. */
  readonly userinfo?: UserinfoSource;
}

export async function issueSession(ctx: FlowContext, req: AuthRequest, tokens: Tokens, basis: SessionBasis): Promise<SessionIssue> {
  const nowSeconds = Math.floor(ctx.now() / 1000);
  let claims = tokens.claims() as Record<string, unknown> | undefined;
  let identityPart: Pick<SessionRecord, 'subject' | 'name' | 'email' | 'groups' | 'userinfoClaims'>;
  if (claims) {
    let fromUserinfo: readonly string[] = [];
    if (basis.userinfo && typeof claims.sub === 'string') {
      const wanted = { groupsClaimPath: ctx.config.oidc.groupsClaimPath, userClaims: ctx.config.userClaims };
      const merged = await withUserinfo(claims, tokens.access_token, basis.userinfo, wanted, ctx.logger);
      if (merged.kind === 'subject_mismatch') throw new UnusableIdTokenError('the userinfo response names another subject than the ID token');
      claims = merged.claims;
      fromUserinfo = merged.fromUserinfo;
    }
    const identity = identityFromClaims(claims, {
      via: 'session',
      userClaims: ctx.config.userClaims,
      groupsClaimPath: ctx.config.oidc.groupsClaimPath,
      issuer: basis.issuer,
      // An unverified `email` names nobody: not the session's name, not its e-mail (claims-identity.ts).
      trustEmail: ctx.config.oidc.trustEmailClients.includes(basis.provider),
    });
    if (!identity) throw new UnusableIdTokenError('the ID token has no usable subject');
    if (basis.previous && basis.previous.subject !== identity.subject) throw new UnusableIdTokenError('the refreshed ID token names another subject');
    let groups = identity.groups;
    if (!groups.length) groups = groupsFromAccessToken(tokens.access_token, claims.iss, ctx.config.oidc.groupsClaimPath);
    identityPart = { subject: identity.subject, name: identity.name, email: identity.email, groups, ...(fromUserinfo.length ? { userinfoClaims: fromUserinfo } : {}) };
  } else if (basis.previous) {
    const { subject, name, email, groups, userinfoClaims } = basis.previous;
    identityPart = { subject, name, email, groups, ...(userinfoClaims ? { userinfoClaims } : {}) };
  } else {
    throw new UnusableIdTokenError('no ID token in the token response');
  }

  const refreshToken = tokens.refresh_token ?? basis.previousRefreshToken;
  const idToken = tokens.id_token ?? basis.previousIdToken;
  const maxAge = Math.max(0, basis.expiresAt - nowSeconds);
  const scope = ctx.sessionScope(req);
  const cookies: HeaderPair[] = [];
  let refreshAt: number | undefined;
  if (refreshToken) {
    const refreshCookie = await ctx.refreshCookies.write(
      { sid: basis.sid, provider: basis.provider, refreshToken, idToken },
      scope,
      maxAge,
    );
    if (refreshCookie) {
      cookies.push(refreshCookie);
      // Rounded up: flooring "now" could put the refresh point up to a second
      // early — with short-lived tokens, due again before other replicas even
      // re-read the refreshed session, so the one-time token would be spent twice.
      refreshAt = Math.ceil(ctx.now() / 1000) + tokenLifetime(tokens, claims, nowSeconds);
    } else {
      ctx.logger?.warn({ provider: basis.provider }, 'refresh token too large for a cookie; this session will not be refreshed');
    }
  }
  if (!refreshAt && req.cookies.has(ctx.refreshCookies.name)) cookies.push(ctx.refreshCookies.clear(scope));

  // Recorded in the session itself, so a session without a refresh cookie can still be ended by IdP sid.
  const idpSid = typeof claims?.sid === 'string' && claims.sid !== '' ? claims.sid : basis.previous?.idpSid;
  const record: SessionRecord = {
    sid: basis.sid,
    provider: basis.provider,
    issuer: basis.issuer,
    ...identityPart,
    expiresAt: basis.expiresAt,
    refreshAt: refreshAt !== undefined && refreshAt < basis.expiresAt ? refreshAt : undefined,
    ...(idpSid ? { idpSid } : {}),
  };
  const sessionCookies = await ctx.sessions.write(record, scope, maxAge, req.cookies);
  return { record, cookies: [...sessionCookies, ...cookies] };
}

/** Seconds the IdP's tokens stay good: the access token's `expires_in`, else the ID token's `exp`; at least 1. */
function tokenLifetime(tokens: Tokens, claims: Record<string, unknown> | undefined, nowSeconds: number): number {
  const expiresIn = tokens.expiresIn();
  if (expiresIn !== undefined) return Math.max(1, expiresIn);
  if (claims && typeof claims.exp === 'number') return Math.max(1, claims.exp - nowSeconds);
  return 300;
}

function groupsFromAccessToken(accessToken: string, idTokenIssuer: unknown, path: string): readonly string[] {
  if (typeof accessToken !== 'string' || accessToken.split('.').length !== 3) return [];
  try {
    const claims = decodeJwt(accessToken);
    if (claims.iss !== idTokenIssuer) return [];
    return Object.freeze(groupsFromClaims(claims, path));
  } catch {
    return [];
  }
}
