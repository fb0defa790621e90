/**
 * The method and host parts of a rule's `match`, compiled once, and the
 * "does this one cover that one" relations the shadowed-rule check needs.
 */

export type HostPattern =
  | { readonly kind: 'exact'; readonly host: string }
  /** `*.example.com`: any host ending in `.example.com` (any depth), not `example.com` itself. */
  | { readonly kind: 'suffix'; readonly suffix: string };

export type RuleMatchErrorCode = 'ERR_RULE_MATCH';

export class RuleMatchError extends Error {
  readonly code: RuleMatchErrorCode = 'ERR_RULE_MATCH';
  constructor(message: string) {
    super(message);
    this.name = 'RuleMatchError';
  }
}

const METHOD = /^[A-Z]+$/;
const HOST_LABELS = /^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$/;

/**
 * Upper-case method list → set; undefined = any method (null). A rule for GET
 * also matches HEAD: upstreams answer HEAD with the GET handler, so HEAD must
 * not slip past a GET rule to a laxer one.
 */
export function compileMethods(methods: readonly string[] | undefined): ReadonlySet<string> | null {
  if (methods === undefined) return null;
  if (!Array.isArray(methods) || methods.length === 0) throw new RuleMatchError('must be a non-empty list of methods (omit it for any method)');
  const set = new Set<string>();
  for (const m of methods) {
    if (typeof m !== 'string' || !METHOD.test(m.toUpperCase())) throw new RuleMatchError(`${JSON.stringify(m)} is not an HTTP method`);
    set.add(m.toUpperCase());
  }
  if (set.has('GET')) set.add('HEAD');
  return set;
}

/** Exact host (lower-cased) or `*.example.com`; undefined = any host (null). */
export function compileHostPattern(host: string | undefined): HostPattern | null {
  if (host === undefined) return null;
  if (typeof host !== 'string' || host.length === 0) throw new RuleMatchError('must be a host name like api.example.com or *.example.com');
  const lower = host.toLowerCase().replace(/\.$/, '');
  if (lower.startsWith('*.')) {
    const rest = lower.slice(2);
    if (!HOST_LABELS.test(rest)) throw new RuleMatchError(`${JSON.stringify(host)}: after '*.' must come a host name`);
    return Object.freeze({ kind: 'suffix', suffix: `.${rest}` });
  }
  if (lower.includes('*')) throw new RuleMatchError(`${JSON.stringify(host)}: '*' is allowed only as a whole first label ('*.example.com')`);
  if (lower.includes(':') && !lower.startsWith('[')) throw new RuleMatchError(`${JSON.stringify(host)}: give the host without a port (ports are ignored when matching)`);
  if (!lower.startsWith('[') && !HOST_LABELS.test(lower)) throw new RuleMatchError(`${JSON.stringify(host)} is not a host name`);
  return Object.freeze({ kind: 'exact', host: lower });
}

/** Length of the host name in `host`, without a port (`a:8080`, `[::1]:8080`) or a trailing dot. */
function hostNameLength(host: string): number {
  let end = host.length;
  if (host.charCodeAt(0) === 91 /* '[' */) {
    const close = host.indexOf(']');
    if (close !== -1) end = close + 1;
  } else {
    const colon = host.indexOf(':');
    // One colon = host:port. More than one = a bare IPv6 address: leave it whole.
    if (colon !== -1 && host.indexOf(':', colon + 1) === -1) end = colon;
  }
  if (end > 0 && host.charCodeAt(end - 1) === 46 /* '.' */) end--;
  return end;
}

/** Matches a lower-case request host (port allowed) without slicing it. */
export function hostMatches(pattern: HostPattern, host: string): boolean {
  const end = hostNameLength(host);
  if (pattern.kind === 'exact') return end === pattern.host.length && host.startsWith(pattern.host);
  const suffix = pattern.suffix;
  return end > suffix.length && host.startsWith(suffix, end - suffix.length);
}

/** True when every method `later` matches, `earlier` matches too. */
export function methodsCover(earlier: ReadonlySet<string> | null, later: ReadonlySet<string> | null): boolean {
  if (earlier === null) return true;
  if (later === null) return false;
  for (const m of later) if (!earlier.has(m)) return false;
  return true;
}

/** True when every host `later` matches, `earlier` matches too. */
export function hostCovers(earlier: HostPattern | null, later: HostPattern | null): boolean {
  if (earlier === null) return true;
  if (later === null) return false;
  if (earlier.kind === 'exact') return later.kind === 'exact' && later.host === earlier.host;
  if (later.kind === 'exact') return later.host.length > earlier.suffix.length && later.host.endsWith(earlier.suffix);
  return later.suffix.endsWith(earlier.suffix);
}
