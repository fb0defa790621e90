/**
 * A case's identity shorthand → the Identity the engine is given
 * (given-identity.ts). `claims` go through the same claims → identity code
 * as a verified token (claims-identity.ts), with the named issuer's groups
 * claim path and e-mail trust, so a case tests the mapping too.
 */
import { identityFromClaims } from '../authn/claims-identity.js';
import type { Config } from '../config/types.js';
import type { Identity } from '../core/identity.js';
import type { TestCase } from './cases-schema.js';

export type CaseIdentity = { readonly identity?: Identity } | { readonly problem: string };

interface ClaimsSource {
  readonly issuer: string;
  readonly groupsClaimPath: string;
  readonly trustEmail: boolean;
  readonly provider?: string;
}

/** Configured bearer issuers first, then OIDC login clients (a session's claims come from their ID tokens). */
function claimsSources(config: Config): ClaimsSource[] {
  const bearer = config.bearer.issuers.map((i) => ({
    issuer: i.issuer,
    groupsClaimPath: i.groupsClaimPath ?? config.oidc.groupsClaimPath,
    trustEmail: i.trustEmail ?? false,
  }));
  const login = config.oidc.providers.map((p) => ({
    issuer: p.issuer,
    groupsClaimPath: config.oidc.groupsClaimPath,
    trustEmail: config.oidc.trustEmailClients.includes(p.name),
    provider: p.name,
  }));
  return [...bearer, ...login];
}

function fromClaims(c: TestCase, claims: Readonly<Record<string, unknown>>, config: Config): CaseIdentity {
  const sources = claimsSources(config);
  const via = c.via === 'session' ? 'session' : c.via === 'bearer' ? 'bearer' : undefined;
  const fitting = sources.filter((s) => (via === 'session' ? s.provider !== undefined : via === 'bearer' ? s.provider === undefined : true));
  const source = c.issuer === undefined ? fitting[0] : fitting.find((s) => s.issuer === c.issuer);
  if (source === undefined) {
    const kind = via === 'session' ? 'OIDC login client' : via === 'bearer' ? 'bearer issuer' : 'bearer issuer or OIDC login client';
    return { problem: c.issuer === undefined ? `the config has no ${kind} to map claims with` : `issuer ${c.issuer} is not a configured ${kind}` };
  }
  const identity = identityFromClaims(claims, {
    via: source.provider === undefined ? 'bearer' : 'session',
    userClaims: config.userClaims,
    groupsClaimPath: source.groupsClaimPath,
    issuer: source.issuer,
    trustEmail: source.trustEmail,
  });
  if (identity === undefined) return { problem: 'the claims carry no usable sub: a token like this is refused' };
  return { identity: source.provider === undefined ? identity : { ...identity, provider: source.provider } };
}

function fromUser(c: TestCase & { user: string }, config: Config): Identity {
  const via = c.via ?? 'bearer';
  const identity: { -readonly [K in keyof Identity]: Identity[K] } = { via, subject: c.user, name: c.user, groups: c.groups ?? [] };
  if (c.email !== undefined) identity.email = c.email;
  if (c.tenant !== undefined) identity.tenant = c.tenant;
  if (c.admin !== undefined) identity.admin = c.admin;
  const bearer = config.bearer.issuers[0];
  const login = config.oidc.providers[0];
  if (via === 'bearer' && bearer) identity.issuer = bearer.issuer;
  if (via === 'session' && login) {
    identity.issuer = login.issuer;
    identity.provider = login.name;
  }
  return identity;
}

export function caseIdentity(c: TestCase, config: Config): CaseIdentity {
  if (c.claims !== undefined) return fromClaims(c, c.claims, config);
  if (c.user !== undefined) return { identity: fromUser({ ...c, user: c.user }, config) };
  return {};
}
