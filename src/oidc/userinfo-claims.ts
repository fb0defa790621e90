/**
 * Claims from the userinfo endpoint (OIDC Core §5.3), for IdPs that put
 * email or groups there and not in the ID token.
 *
 * `authz.oidc.clients.<name>.userinfo`:
 * - `auto` (default): asked when the ID token lacks a claim the config reads
 *   — the groups at groups-claim-path, `email`, or every `user-claims` name;
 *   a failed request leaves the ID token's claims alone (logged);
 * - `always`: asked after every code exchange / refresh with a new ID
 *   token; a failed request fails the login (IdpUnavailableError);
 * - `never`.
 *
 * The userinfo `sub` must equal the ID token's (§5.3.2): another subject is
 * reported as a mismatch and the caller refuses the login. Merged claim by
 * claim with the ID token winning — it is signed and bound to this login;
 * userinfo only fills gaps. What came from userinfo is named, so `explain`
 * can say where an identity's claims were read.
 */
import * as oidc from 'openid-client';
import type { Logger } from 'pino';
import { claimAtPath } from '../authn/claims-identity.js';
import type { UserinfoMode } from '../config/types.js';
import { IdpUnavailableError } from './oidc-errors.js';

export interface UserinfoSource {
  readonly provider: string;
  readonly client: oidc.Configuration;
  readonly mode: UserinfoMode;
}

/** The claims the config reads from an identity. */
export interface WantedClaims {
  readonly groupsClaimPath: string;
  readonly userClaims: readonly string[];
}

export type MergedClaims =
  | { readonly kind: 'ok'; readonly claims: Record<string, unknown>; readonly fromUserinfo: readonly string[] }
  | { readonly kind: 'subject_mismatch' };

/** Registered JWT / protocol claims a userinfo response never contributes. */
const PROTOCOL_CLAIMS = new Set(['sub', 'iss', 'aud', 'exp', 'iat', 'nbf', 'jti', 'nonce', 'azp', 'at_hash', 'c_hash', 'auth_time', 'acr', 'amr', 'sid']);
/** At most this many claim names are recorded as "from userinfo" (they ride in the session). */
const MAX_RECORDED = 16;

/** True when the ID token lacks a claim the config reads. */
export function lacksWantedClaims(claims: Readonly<Record<string, unknown>>, wanted: WantedClaims): boolean {
  if (claimAtPath(claims, wanted.groupsClaimPath) === undefined) return true;
  if (claims.email === undefined) return true;
  const names = wanted.userClaims.filter((c) => c !== 'email');
  return names.length > 0 && names.every((c) => !Object.hasOwn(claims, c));
}

export async function withUserinfo(
  idClaims: Readonly<Record<string, unknown>>,
  accessToken: string,
  source: UserinfoSource,
  wanted: WantedClaims,
  logger?: Logger,
): Promise<MergedClaims> {
  const unchanged: MergedClaims = { kind: 'ok', claims: { ...idClaims }, fromUserinfo: [] };
  if (source.mode === 'never' || (source.mode === 'auto' && !lacksWantedClaims(idClaims, wanted))) return unchanged;
  if (!source.client.serverMetadata().userinfo_endpoint) {
    if (source.mode === 'always') throw new IdpUnavailableError(source.provider, 'userinfo: always, but the IdP advertises no userinfo_endpoint');
    return unchanged;
  }
  let info: Record<string, unknown>;
  try {
    // The subject is compared here, not by openid-client, so a mismatch is told apart from a failed request.
    info = (await oidc.fetchUserInfo(source.client, accessToken, oidc.skipSubjectCheck)) as Record<string, unknown>;
  } catch (err) {
    if (source.mode === 'always') throw new IdpUnavailableError(source.provider, 'userinfo request failed', err);
    const code = (err as { code?: unknown }).code;
    logger?.warn({ provider: source.provider, error: typeof code === 'string' ? code : (err as Error).name }, 'userinfo request failed; using the ID token\'s claims alone');
    return unchanged;
  }
  if (typeof info.sub !== 'string' || info.sub !== idClaims.sub) return { kind: 'subject_mismatch' };
  const claims: Record<string, unknown> = { ...idClaims };
  const fromUserinfo: string[] = [];
  for (const [name, value] of Object.entries(info)) {
    if (PROTOCOL_CLAIMS.has(name) || Object.hasOwn(idClaims, name) || value === undefined || value === null) continue;
    claims[name] = value;
    if (fromUserinfo.length < MAX_RECORDED && isWanted(name, wanted)) fromUserinfo.push(name);
  }
  return { kind: 'ok', claims, fromUserinfo };
}

/** A claim the identity is built from: the groups path's first key, email, a user claim. */
function isWanted(name: string, wanted: WantedClaims): boolean {
  const groupsRoot = wanted.groupsClaimPath.split(/[.[]/, 1)[0];
  return name === groupsRoot || name === 'email' || name === 'email_verified' || wanted.userClaims.includes(name);
}
