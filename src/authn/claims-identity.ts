/**
 * Claims → Identity, shared by the bearer and session authenticators.
 *
 * Claims come from a token whose signature was already verified, but their
 * shapes are still the issuer's choice: every value is type-checked and
 * anything unexpected is dropped rather than trusted or thrown on.
 */
import type { Identity } from '../core/identity.js';

/** More groups than this is a misconfigured IdP, not a person; the rest are ignored. */
export const MAX_GROUPS = 1000;

type PathStep = string | number;

/** Claim paths come from config, so a handful at most; the bound keeps a bug from growing memory. */
const parsedPaths = new Map<string, readonly PathStep[] | null>();
const MAX_PARSED_PATHS = 64;

/**
 * Parses `a.b[0].c` into ['a', 'b', 0, 'c']. Returns null for a path that
 * cannot be read (empty segment, unclosed bracket, non-numeric index).
 *
 * Keys that themselves contain a dot (e.g. the claim `https://x.io/groups`)
 * are NOT supported: a dot always separates two keys.
 */
function parseClaimPath(path: string): readonly PathStep[] | null {
  const steps: PathStep[] = [];
  for (const segment of path.split('.')) {
    const bracket = segment.indexOf('[');
    const key = bracket === -1 ? segment : segment.slice(0, bracket);
    if (key === '') return null;
    steps.push(key);
    let rest = bracket === -1 ? '' : segment.slice(bracket);
    while (rest !== '') {
      const match = /^\[(\d{1,6})\]/.exec(rest);
      if (!match) return null;
      steps.push(Number(match[1]));
      rest = rest.slice(match[0].length);
    }
  }
  return steps;
}

function claimPathSteps(path: string): readonly PathStep[] | null {
  const known = parsedPaths.get(path);
  if (known !== undefined) return known;
  const steps = parseClaimPath(path);
  if (parsedPaths.size < MAX_PARSED_PATHS) parsedPaths.set(path, steps);
  return steps;
}

/** Follows `path` through plain objects and arrays; own properties only (no prototype walk). */
function valueAtPath(claims: Readonly<Record<string, unknown>>, steps: readonly PathStep[]): unknown {
  let current: unknown = claims;
  for (const step of steps) {
    if (typeof step === 'number') {
      if (!Array.isArray(current) || step >= current.length) return undefined;
      current = current[step];
    } else {
      if (current === null || typeof current !== 'object' || Array.isArray(current)) return undefined;
      if (!Object.hasOwn(current, step)) return undefined;
      current = (current as Record<string, unknown>)[step];
    }
  }
  return current;
}

/** The value at a claim path (`realm_access.roles`), undefined when absent or the path cannot be read. */
export function claimAtPath(claims: Readonly<Record<string, unknown>>, path: string): unknown {
  const steps = claimPathSteps(path);
  return steps === null ? undefined : valueAtPath(claims, steps);
}

/**
 * Groups named by a claim path (`kestra.security.oidc.groups-claim-path`):
 * `groups`, `realm_access.roles`, `resource_access.kestra.roles`, `a.b[0]`.
 *
 * - a string is one group (no comma splitting: a group name may hold a comma);
 * - an array contributes its non-empty string members, anything else dropped;
 * - missing, or any other type → no groups;
 * - duplicates removed, order kept, at most MAX_GROUPS.
 */
export function groupsFromClaims(claims: Readonly<Record<string, unknown>>, path: string): string[] {
  const steps = claimPathSteps(path);
  if (steps === null) return [];
  const value = valueAtPath(claims, steps);
  if (typeof value === 'string') return value === '' ? [] : [value];
  if (!Array.isArray(value)) return [];
  const groups = new Set<string>();
  for (const member of value) {
    if (groups.size >= MAX_GROUPS) break;
    if (typeof member === 'string' && member !== '') groups.add(member);
  }
  return [...groups];
}

export interface ClaimsIdentityOptions {
  readonly via: 'bearer' | 'session';
  /** Claims tried in order for the name (`authz.user-claims`). */
  readonly userClaims: readonly string[];
  readonly groupsClaimPath: string;
  /** The configured issuer the claims were verified against. */
  readonly issuer: string;
  /** The issuer verifies every address: use `email` without `email_verified` (default false). */
  readonly trustEmail?: boolean;
}

/**
 * The `email` claim, when it may stand for the caller: `email_verified` is
 * true (the boolean, or the string "true" some IdPs send — both are the
 * issuer's signed statement), or the issuer is trusted for e-mail. Anyone
 * can type an address into a self-service profile; unverified, it names
 * nobody, so it is neither the identity's name (and thus never matches a
 * `user` binding) nor its forwarded e-mail.
 */
export function verifiedEmail(claims: Readonly<Record<string, unknown>>, trustEmail = false): string | undefined {
  const email = claims.email;
  if (typeof email !== 'string' || email === '') return undefined;
  const verified = claims.email_verified;
  return trustEmail || verified === true || verified === 'true' ? email : undefined;
}

/**
 * Builds the (frozen) Identity of a verified token. Returns undefined when the claims
 * carry no usable subject (`sub` missing, empty or not a string): without a
 * stable subject nothing can be bound to the caller, so the token is refused.
 */
export function identityFromClaims(
  claims: Readonly<Record<string, unknown>>,
  options: ClaimsIdentityOptions,
): Identity | undefined {
  const subject = claims.sub;
  if (typeof subject !== 'string' || subject === '') return undefined;
  const email = verifiedEmail(claims, options.trustEmail);
  let name = subject;
  for (const claim of options.userClaims) {
    const value = claim === 'email' ? email : Object.hasOwn(claims, claim) ? claims[claim] : undefined;
    if (typeof value === 'string' && value !== '') {
      name = value;
      break;
    }
  }
  const identity: {
    -readonly [K in keyof Identity]: Identity[K];
  } = {
    via: options.via,
    subject,
    name,
    groups: Object.freeze(groupsFromClaims(claims, options.groupsClaimPath)),
    issuer: options.issuer,
  };
  if (email !== undefined) identity.email = email;
  if (typeof claims.exp === 'number' && Number.isFinite(claims.exp)) identity.expiresAt = claims.exp;
  // Frozen: a bearer identity is cached and shared by every request carrying the token.
  return Object.freeze(identity);
}
