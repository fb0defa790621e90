/**
 * Logout tokens as an OpenID Provider sends them (Back-Channel Logout 1.0
 * §2.4), signed with the test IdP's own key — or broken on purpose.
 */
import { randomUUID } from 'node:crypto';
import { SignJWT, generateKeyPair, importJWK, type JWK } from 'jose';
import type { OidcIdp } from '../helpers/oidc-idp.js';

export const EVENT = 'http://schemas.openid.net/event/backchannel-logout';

export interface MintOptions {
  readonly claims?: Record<string, unknown>;
  /** Claims to leave out of the defaults (iss, aud, iat, jti, events). */
  readonly omit?: readonly string[];
  /** Sign with a fresh key under the IdP's kid (a forgery). */
  readonly foreignKey?: boolean;
}

export async function mintLogoutToken(idp: OidcIdp, clientId: string, options: MintOptions = {}): Promise<string> {
  const jwk = idp.signingKey as JWK & { kid: string };
  const key = options.foreignKey ? (await generateKeyPair('RS256')).privateKey : await importJWK(jwk, 'RS256');
  const claims: Record<string, unknown> = {
    iss: idp.issuer,
    aud: clientId,
    iat: Math.floor(Date.now() / 1000),
    exp: Math.floor(Date.now() / 1000) + 120,
    jti: randomUUID(),
    events: { [EVENT]: {} },
    ...options.claims,
  };
  for (const name of options.omit ?? []) delete claims[name];
  return new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: jwk.kid, typ: 'logout+jwt' }).sign(key);
}

/** POSTs a logout token to a replica's HTTP door as the provider would. */
export async function postLogoutToken(httpPort: number, provider: string, token: string, init: { method?: string } = {}) {
  const res = await fetch(`http://127.0.0.1:${httpPort}/oauth/backchannel-logout/${provider}`, {
    method: init.method ?? 'POST',
    headers: init.method === 'GET' ? {} : { 'content-type': 'application/x-www-form-urlencoded' },
    body: init.method === 'GET' ? undefined : new URLSearchParams({ logout_token: token }).toString(),
  });
  const text = await res.text();
  return { status: res.status, cacheControl: res.headers.get('cache-control'), body: text ? JSON.parse(text) as Record<string, unknown> : {} };
}
