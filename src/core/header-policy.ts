/**
 * The one place that decides which request headers and cookies never reach
 * the upstream: identity headers a client might spoof, and our own cookies
 * (session, refresh, login state). Driven by a declared list built once per
 * config.
 */
import type { Config } from '../config/types.js';
import { forEachCookie } from './cookie-header.js';
import type { Identity } from './identity.js';
import type { HeaderPair } from './decision.js';

export interface HeaderPolicy {
  /** Identity header names (lower-case), in a fixed order. */
  readonly identityHeaders: readonly string[];
  readonly names: Config['headers'];
  /** Exact cookie names we own. */
  readonly ownCookies: ReadonlySet<string>;
  /** Cookie-name prefixes we own (per-login state cookies). */
  readonly ownCookiePrefixes: readonly string[];
}

/**
 * The signed identity token's default header (SPEC.md): removed from every
 * allowed request whatever the config says, so a client-sent token of that
 * name never reaches an upstream that verifies it — also while the token is
 * off, or sent under another name.
 */
export const SIGNED_IDENTITY_HEADER = 'x-kestra-identity';

export function compileHeaderPolicy(config: Config): HeaderPolicy {
  const names = config.headers;
  const identityHeaders = [names.user, names.email, names.groups, names.tenant, SIGNED_IDENTITY_HEADER];
  if (names.identity) identityHeaders.push(names.identity);
  // The signed token's own header (authz.identity-token.header), also while the token is off.
  if (config.identityToken?.header) identityHeaders.push(config.identityToken.header);
  const cookie = config.cookie.name;
  return Object.freeze({
    identityHeaders: Object.freeze([...new Set(identityHeaders.map((h) => h.toLowerCase()))]),
    names,
    ownCookies: new Set([cookie, `${cookie}_REFRESH_TOKEN`]),
    ownCookiePrefixes: Object.freeze([`${cookie}_`, 'OAUTH2_STATE']),
  });
}

function isOwnCookie(policy: HeaderPolicy, name: string): boolean {
  if (policy.ownCookies.has(name)) return true;
  for (const prefix of policy.ownCookiePrefixes) if (name.startsWith(prefix)) return true;
  return false;
}

interface CookieRewrite {
  readonly policy: HeaderPolicy;
  readonly kept: string[];
  removed: boolean;
}

function keepUnlessOwn(rewrite: CookieRewrite, name: string, _value: string | undefined, pair: string): boolean {
  if (isOwnCookie(rewrite.policy, name)) rewrite.removed = true;
  else rewrite.kept.push(pair);
  return true;
}

/**
 * The Cookie header without our cookies: unchanged string when none of ours
 * is present, null when nothing is left (the header should be removed).
 * Names are read by the same reader as authentication's (cookie-header.ts),
 * and every pair is looked at — also past the ones authentication reads — so
 * nothing we could take as ours is passed on.
 */
export function cookieHeaderWithoutOwn(policy: HeaderPolicy, header: string | undefined): string | null | undefined {
  if (!header) return undefined;
  const rewrite = forEachCookie<CookieRewrite>(header, Number.POSITIVE_INFINITY, { policy, kept: [], removed: false }, keepUnlessOwn);
  if (!rewrite.removed) return undefined;
  return rewrite.kept.length ? rewrite.kept.join('; ') : null;
}

/** Header values must not carry CR/LF or other controls (response splitting). */
function headerSafe(value: string): string {
  // eslint-disable-next-line no-control-regex
  return /[\x00-\x1f\x7f]/.test(value) ? value.replace(/[\x00-\x1f\x7f]/g, '') : value;
}

/**
 * Upstream headers for an allowed request: identity headers set from the
 * identity (absent values removed so a spoofed one cannot survive), our
 * cookies stripped. Sorted by name so serialized responses are stable.
 */
export function upstreamHeadersFor(
  policy: HeaderPolicy,
  identity: Identity | undefined,
  tenant: string | undefined,
  cookieHeader: string | undefined,
  extra: readonly HeaderPair[] = [],
): { set: HeaderPair[]; remove: string[] } {
  const set: HeaderPair[] = [...extra];
  const names = policy.names;
  if (identity) {
    set.push([names.user.toLowerCase(), headerSafe(identity.name)]);
    if (identity.email) set.push([names.email.toLowerCase(), headerSafe(identity.email)]);
    if (identity.groups.length) set.push([names.groups.toLowerCase(), headerSafe(identity.groups.join(','))]);
    if (tenant) set.push([names.tenant.toLowerCase(), headerSafe(tenant)]);
  }
  const setNames = new Set(set.map(([n]) => n));
  const remove = policy.identityHeaders.filter((h) => !setNames.has(h));
  const cookie = cookieHeaderWithoutOwn(policy, cookieHeader);
  if (cookie === null) remove.push('cookie');
  // The client's own cookies, but rewritten by us: a CR/LF/NUL in them (possible from a non-Envoy gRPC caller) must not reach a header we set.
  else if (cookie !== undefined) set.push(['cookie', headerSafe(cookie)]);
  set.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  remove.sort();
  return { set, remove };
}
