/**
 * Route rules compiled once per config into a frozen table, and the
 * per-request match (method + host + path → the first rule that matches).
 * Order: the operator's rules (config order), then the built-in Kestra API
 * rules when `kestra-rules` is on, then the `default` rule, which matches
 * everything. See path-template.ts for the template syntax.
 */
import type { Config, RuleAllow, RuleConfig } from '../config/types.js';
import { ConfigError, type ConfigProblem } from '../core/errors.js';
import { kestraApiRules, type BuiltInRule } from './kestra-api-rules.js';
import { matchPathTemplate, parsePathTemplate, type PathTemplate } from './path-template.js';
import { parseRequirement, requirementLabel, type Requirement } from './requirement.js';
import { buildRouteIndex, routeCandidates, type RouteIndexNode } from './route-index.js';
import { compileHostPattern, compileMethods, hostMatches, type HostPattern } from './rule-match.js';
import { compilePrincipalPattern, firstMatchingPattern, type PrincipalPattern } from './spiffe-id.js';

export type { Requirement } from './requirement.js';

export interface CompiledRule {
  readonly id: string;
  readonly source: 'user' | 'kestra' | 'default';
  readonly allow?: RuleAllow;
  readonly require?: Requirement;
  /** What the rule needs, for logs and explain: 'FLOW:READ', 'EXECUTION:READ (any namespace)', 'public'. */
  readonly label: string;
  /** The path template as configured. */
  readonly path: string;
  readonly line?: number;
  /** `match.principals` as configured, for explain; absent = any peer. */
  readonly principals?: readonly string[];
  /** The signed identity token's `aud` for requests it allows; absent = the configured or host audience. */
  readonly identityAudience?: string;
}

export interface RouteMatch {
  readonly rule: CompiledRule;
  readonly tenant?: string;
  readonly namespace?: string;
  readonly captures: Readonly<Record<string, string>>;
}

interface RouteEntry {
  readonly template: PathTemplate;
  /** null = any method. */
  readonly methods: ReadonlySet<string> | null;
  /** null = any host. */
  readonly host: HostPattern | null;
  /** null = any peer (or none); else the mTLS peer's SPIFFE id must match one. */
  readonly principals: readonly PrincipalPattern[] | null;
  readonly rule: CompiledRule;
  /** Prebuilt answer for templates without captures: such a match allocates nothing. */
  readonly fixedMatch: RouteMatch | null;
}

export interface RouteTable {
  /** Every rule in match order, the default rule last. */
  readonly rules: readonly CompiledRule[];
  readonly index: RouteIndexNode<RouteEntry>;
  readonly fallback: RouteMatch;
  readonly hasHostRules: boolean;
  /** Every SPIFFE pattern a rule matches on: the mtls authenticator's "is this workload known" test. */
  readonly principalPatterns: readonly PrincipalPattern[];
}

const EMPTY_CAPTURES: Readonly<Record<string, string>> = Object.freeze({});

function compileEntry(rule: RuleConfig | BuiltInRule, source: 'user' | 'kestra', key: string, problems: ConfigProblem[]): RouteEntry | undefined {
  const before = problems.length;
  const report = (suffix: string, message: string): void => {
    problems.push(rule.line === undefined ? { key: `${key}${suffix}`, message } : { key: `${key}${suffix}`, line: rule.line, message });
  };
  let template: PathTemplate | undefined;
  try {
    template = parsePathTemplate(rule.match?.path);
  } catch (err) {
    report('.match.path', (err as Error).message);
  }
  let methods: ReadonlySet<string> | null = null;
  let host: HostPattern | null = null;
  try {
    methods = compileMethods(rule.match?.methods);
  } catch (err) {
    report('.match.methods', (err as Error).message);
  }
  try {
    host = compileHostPattern(rule.match?.host);
  } catch (err) {
    report('.match.host', (err as Error).message);
  }
  let principals: PrincipalPattern[] | null = null;
  const givenPrincipals = (rule as RuleConfig).match?.principals;
  if (givenPrincipals !== undefined) {
    if (!Array.isArray(givenPrincipals) || givenPrincipals.length === 0) {
      report('.match.principals', 'must be a non-empty list of SPIFFE ids or patterns (omit it for any peer)');
    } else {
      principals = [];
      for (const p of givenPrincipals) {
        try {
          principals.push(compilePrincipalPattern(p));
        } catch (err) {
          report('.match.principals', (err as Error).message);
        }
      }
    }
  }
  const hasAllow = rule.allow !== undefined;
  const hasRequire = rule.require !== undefined;
  let requirement: Requirement | undefined;
  if (rule.namespaceFrom !== undefined && rule.namespaceFrom !== 'query') {
    report('.namespace-from', `must be query (got ${JSON.stringify(rule.namespaceFrom)})`);
  } else if (rule.namespaceFrom !== undefined && !hasRequire) {
    report('.namespace-from', 'only a rule with `require` takes its namespaces from the query');
  }
  if (hasAllow === hasRequire) {
    report('', 'a rule needs exactly one of `allow` (public | authenticated | deny) or `require` (RESOURCE:ACTION)');
  } else if (hasAllow && rule.allow !== 'public' && rule.allow !== 'authenticated' && rule.allow !== 'deny') {
    report('.allow', `must be public, authenticated or deny (got ${JSON.stringify(rule.allow)})`);
  } else if (hasRequire) {
    try {
      requirement = parseRequirement(rule.require!, {
        allNamespaces: (rule as BuiltInRule).allNamespaces === true,
        ...(rule.namespaceFrom === 'query' ? { namespaceFrom: 'query' as const } : {}),
      });
    } catch (err) {
      report('.require', (err as Error).message);
    }
  }
  if (problems.length > before || template === undefined) return undefined;

  const label = requirement ? requirementLabel(requirement, template.captureNames.includes('namespace')) : rule.allow!;
  const compiled: CompiledRule = Object.freeze({
    id: rule.id,
    source,
    ...(requirement ? { require: requirement } : { allow: rule.allow! }),
    label,
    path: template.source,
    ...(rule.line === undefined ? {} : { line: rule.line }),
    ...(principals === null ? {} : { principals: Object.freeze(principals.map((p) => p.source)) }),
    ...((rule as RuleConfig).identityAudience === undefined ? {} : { identityAudience: (rule as RuleConfig).identityAudience }),
  });
  const fixedMatch = template.captureNames.length === 0 ? Object.freeze({ rule: compiled, captures: EMPTY_CAPTURES }) : null;
  return Object.freeze({ template, methods, host, principals: principals && Object.freeze(principals), rule: compiled, fixedMatch });
}

/**
 * Compiles the route rules of one config. Throws a ConfigError listing every
 * bad rule (key `authz.rules[i]…` and its line) — never a half-built table.
 */
export function compileRouteTable(config: Pick<Config, 'rules' | 'kestraRules' | 'default'> & { readonly source?: string }): RouteTable {
  const problems: ConfigProblem[] = [];
  const entries: RouteEntry[] = [];
  config.rules.forEach((rule, i) => {
    const entry = compileEntry(rule, 'user', `authz.rules[${i}]`, problems);
    if (entry) entries.push(entry);
  });
  if (config.kestraRules) {
    for (const rule of kestraApiRules()) {
      const entry = compileEntry(rule, 'kestra', `built-in rule ${rule.id}`, problems);
      if (entry) entries.push(entry);
    }
  }
  const fallbackAllow = config.default;
  if (fallbackAllow !== 'public' && fallbackAllow !== 'authenticated' && fallbackAllow !== 'deny') {
    problems.push({ key: 'authz.default', message: `must be public, authenticated or deny (got ${JSON.stringify(fallbackAllow)})` });
  }
  if (problems.length > 0) throw new ConfigError(config.source ?? 'configuration', problems);

  const defaultRule: CompiledRule = Object.freeze({ id: 'default', source: 'default', allow: fallbackAllow, label: fallbackAllow, path: '/**' });
  return Object.freeze({
    rules: Object.freeze([...entries.map((e) => e.rule), defaultRule]),
    index: buildRouteIndex(entries),
    fallback: Object.freeze({ rule: defaultRule, captures: EMPTY_CAPTURES }),
    hasHostRules: entries.some((e) => e.host !== null),
    principalPatterns: Object.freeze(entries.flatMap((e) => e.principals ?? [])),
  });
}

/**
 * The path as Kestra's router matches it: Micronaut drops one trailing slash
 * before matching (`DELETE /flows/ns/f/` runs the handler of
 * `DELETE /flows/ns/f`), and normalizePath has merged repeated slashes, so
 * every trailing slash goes. Every rule, built-in or the operator's, sees the
 * path without it: a trailing slash can never make a request miss the rule
 * its bare path matches and fall to a laxer one.
 */
export function routedPath(path: string): string {
  let end = path.length;
  while (end > 1 && path.charCodeAt(end - 1) === 47 /* '/' */) end--;
  return end === path.length ? path : path.slice(0, end);
}

/**
 * The first rule matching the request; the default rule when none does.
 * `method` upper-case, `host` as sent (port and a trailing dot ignored),
 * `path` normalized and without query. A trailing slash is ignored (see
 * routedPath). `principal` is the mTLS peer's SPIFFE id ('' = none): a rule
 * with `principals` matches only a peer one of them names — whoever the user
 * behind it is. Allocates only for captures (and to drop a trailing slash).
 */
export function matchRoute(table: RouteTable, method: string, host: string, path: string, principal = ''): RouteMatch {
  path = routedPath(path);
  // Methods are upper-case by contract; a lower-case one must not slip past a method-limited rule.
  const c0 = method.charCodeAt(0);
  if (c0 >= 97 && c0 <= 122) method = method.toUpperCase();
  const candidates = routeCandidates(table.index, path);
  // Hosts are lower-case by contract; lower-casing here keeps a host rule from being sidestepped if one is not.
  const hostName = table.hasHostRules ? host.toLowerCase() : host;
  for (let i = 0; i < candidates.length; i++) {
    const entry = candidates[i]!;
    if (entry.methods !== null && !entry.methods.has(method)) continue;
    if (entry.host !== null && !hostMatches(entry.host, hostName)) continue;
    if (entry.principals !== null && (principal === '' || firstMatchingPattern(entry.principals, principal) === undefined)) continue;
    const captures = matchPathTemplate(entry.template, path);
    if (captures === null) continue;
    if (entry.fixedMatch !== null) return entry.fixedMatch;
    return { rule: entry.rule, tenant: captures.tenant, namespace: captures.namespace, captures };
  }
  return table.fallback;
}
