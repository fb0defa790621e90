/**
 * SPIFFE ids (a mesh workload's identity, `spiffe://<trust domain>/<path>`)
 * and the patterns rules and service bindings match them with.
 *
 * An id is valid as the SPIFFE spec (SPIFFE-ID.md §2) writes it: scheme
 * `spiffe`, a trust domain of lower-case letters, digits, `.`, `-`, `_`, a
 * path of non-empty segments of letters, digits, `.`, `-`, `_` (never `.` or
 * `..`), no trailing slash, no port, user info, query or fragment, at most
 * 2048 bytes. Anything else is not an id: a door drops it (the request then
 * has no principal) and a config naming it is refused.
 *
 * Patterns match segment by segment, case-sensitively:
 * - a literal segment matches itself;
 * - `*` matches exactly one segment (`…/sa/*` matches `…/sa/worker`, not
 *   `…/sa/worker/x` nor `…/sa`);
 * - `**`, only as the last segment, matches one or more segments (`…/ns/kestra/**`
 *   matches every workload path under `ns/kestra`, not `…/ns/kestra` itself).
 * The trust domain is always literal: a wildcard there would let another
 * mesh's workloads (a federated trust domain) match. A partial wildcard
 * (`sa/ci-*`) is refused rather than guessed at.
 */

const MAX_ID_LENGTH = 2048;
const MAX_TRUST_DOMAIN_LENGTH = 255;
const TRUST_DOMAIN = /^[a-z0-9._-]+$/;
const SEGMENT = /^[A-Za-z0-9._-]+$/;
const PREFIX = 'spiffe://';

export interface SpiffeId {
  readonly trustDomain: string;
  readonly segments: readonly string[];
}

/** Why `text` is not a SPIFFE id, or undefined when it is one. Never echoes the text. */
export function spiffeIdProblem(text: unknown): string | undefined {
  if (typeof text !== 'string') return 'must be a SPIFFE id (spiffe://trust.domain/path)';
  return parse(text, false).problem;
}

/** The id, or undefined when `text` is not a valid SPIFFE id. */
export function parseSpiffeId(text: string): SpiffeId | undefined {
  const parsed = parse(text, false);
  return parsed.problem === undefined ? parsed.id : undefined;
}

export interface PrincipalPattern {
  /** As configured, for explain and messages. */
  readonly source: string;
  readonly trustDomain: string;
  /** Literal segments, '*' (one segment), and at most one trailing '**'. */
  readonly segments: readonly string[];
  readonly rest: boolean;
}

export class PrincipalPatternError extends Error {
  readonly code = 'ERR_PRINCIPAL_PATTERN' as const;
  constructor(message: string) {
    super(message);
    this.name = 'PrincipalPatternError';
  }
}

/** Compiles one pattern; throws PrincipalPatternError saying what is wrong. */
export function compilePrincipalPattern(pattern: unknown): PrincipalPattern {
  if (typeof pattern !== 'string') throw new PrincipalPatternError('must be a SPIFFE id or pattern (spiffe://trust.domain/ns/kestra/sa/*)');
  const parsed = parse(pattern, true);
  if (parsed.problem !== undefined) throw new PrincipalPatternError(parsed.problem);
  const segments = [...parsed.id.segments];
  const rest = segments[segments.length - 1] === '**';
  if (rest) segments.pop();
  return Object.freeze({ source: pattern, trustDomain: parsed.id.trustDomain, segments: Object.freeze(segments), rest });
}

/**
 * A valid SPIFFE id, tested without allocating (the doors test every
 * principal they receive): the same grammar as parse() below.
 */
const SPIFFE_ID = /^spiffe:\/\/[a-z0-9._-]{1,255}(?:\/(?!\.\.?(?:\/|$))[A-Za-z0-9._-]+)*$/;

export function isSpiffeId(text: string): boolean {
  return text.length <= MAX_ID_LENGTH && SPIFFE_ID.test(text);
}

/** Whether `id` (a SPIFFE id string; anything else matches nothing) matches `pattern`. */
export function principalMatches(pattern: PrincipalPattern, id: string): boolean {
  const parsed = parseSpiffeId(id);
  return parsed !== undefined && parsedMatches(pattern, parsed);
}

/** The same test on an id parsed once for several patterns. */
export function parsedMatches(pattern: PrincipalPattern, id: SpiffeId): boolean {
  if (id.trustDomain !== pattern.trustDomain) return false;
  const want = pattern.segments;
  const have = id.segments;
  if (pattern.rest ? have.length <= want.length : have.length !== want.length) return false;
  for (let i = 0; i < want.length; i++) {
    if (want[i] !== '*' && want[i] !== have[i]) return false;
  }
  return true;
}

/** The first of `patterns` that matches `id`, undefined when none does (or `id` is no SPIFFE id). */
export function firstMatchingPattern(patterns: readonly PrincipalPattern[], id: string): PrincipalPattern | undefined {
  if (patterns.length === 0) return undefined;
  const parsed = parseSpiffeId(id);
  if (parsed === undefined) return undefined;
  for (const p of patterns) if (parsedMatches(p, parsed)) return p;
  return undefined;
}

type Parsed = { readonly id: SpiffeId; readonly problem?: undefined } | { readonly problem: string };

function parse(text: string, asPattern: boolean): Parsed {
  if (Buffer.byteLength(text, 'utf8') > MAX_ID_LENGTH) return { problem: `must be at most ${MAX_ID_LENGTH} bytes` };
  if (!text.startsWith(PREFIX)) return { problem: 'must start with spiffe:// (lower case)' };
  const rest = text.slice(PREFIX.length);
  const slash = rest.indexOf('/');
  const trustDomain = slash === -1 ? rest : rest.slice(0, slash);
  if (trustDomain === '') return { problem: 'must name a trust domain (spiffe://cluster.local/…)' };
  if (trustDomain.length > MAX_TRUST_DOMAIN_LENGTH) return { problem: `the trust domain must be at most ${MAX_TRUST_DOMAIN_LENGTH} characters` };
  if (!TRUST_DOMAIN.test(trustDomain)) {
    return { problem: asPattern && trustDomain.includes('*')
      ? 'the trust domain cannot hold a wildcard (only path segments can)'
      : 'the trust domain may hold only lower-case letters, digits, ".", "-" and "_" (no port, user or upper case)' };
  }
  if (slash === -1) return { id: { trustDomain, segments: [] } };
  const segments = rest.slice(slash + 1).split('/');
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i]!;
    if (s === '') return { problem: 'path segments cannot be empty (no "//" and no trailing "/")' };
    if (s === '.' || s === '..') return { problem: 'path segments cannot be "." or ".."' };
    if (asPattern && s === '*') continue;
    if (asPattern && s === '**') {
      if (i !== segments.length - 1) return { problem: '"**" may only be the last segment' };
      continue;
    }
    if (!SEGMENT.test(s)) {
      return { problem: asPattern && s.includes('*')
        ? '"*" must be a whole segment ("…/sa/*"), not part of one'
        : 'path segments may hold only letters, digits, ".", "-" and "_" (no query, fragment or percent-encoding)' };
    }
  }
  return { id: { trustDomain, segments } };
}
