/**
 * Path templates of route rules, parsed once at config load and matched on
 * the hot path without splitting the request path or building a regex.
 *
 * Syntax (segments separated by '/'):
 * - a literal segment matches itself, case-sensitively (Kestra's routes are);
 * - `{name}` captures exactly one non-empty segment;
 * - `*` matches exactly one non-empty segment without capturing;
 * - `**`, only as the last segment, matches zero or more remaining segments.
 * The template `/` matches only the path `/`. Route matching drops a
 * trailing slash from the request path before any template sees it
 * (routedPath in route-table.ts), as Kestra's router does.
 */

export type TemplateSegment =
  | { readonly kind: 'literal'; readonly text: string }
  | { readonly kind: 'capture'; readonly name: string }
  | { readonly kind: 'wildcard' };

export interface PathTemplate {
  readonly source: string;
  /** Segments before a trailing `**` (which is not listed). */
  readonly segments: readonly TemplateSegment[];
  /** True when the template ends in `**`. */
  readonly rest: boolean;
  readonly captureNames: readonly string[];
}

export type PathTemplateErrorCode = 'ERR_PATH_TEMPLATE';

/** A template that cannot be parsed; the message quotes the template (never request data). */
export class PathTemplateError extends Error {
  readonly code: PathTemplateErrorCode = 'ERR_PATH_TEMPLATE';
  readonly template: string;
  constructor(template: string, problem: string) {
    super(`path template ${JSON.stringify(template)}: ${problem}`);
    this.name = 'PathTemplateError';
    this.template = template;
  }
}

/** Enough for any sane route; bounds the shared capture scratch buffer. */
export const MAX_CAPTURES = 16;
const MAX_TEMPLATE_LENGTH = 2048;
// A leading letter keeps names like `__proto__` out of the captures object.
const CAPTURE_NAME = /^[A-Za-z][A-Za-z0-9_-]*$/;
const FORBIDDEN_IN_LITERAL = /[{}*?#%\s]/;

export function parsePathTemplate(template: string): PathTemplate {
  if (typeof template !== 'string' || template.length === 0) throw new PathTemplateError(String(template), 'must be a non-empty string');
  if (template.length > MAX_TEMPLATE_LENGTH) throw new PathTemplateError(template.slice(0, 40) + '…', `longer than ${MAX_TEMPLATE_LENGTH} characters`);
  if (template.charCodeAt(0) !== 47) throw new PathTemplateError(template, "must start with '/'");
  if (template === '/') return Object.freeze({ source: template, segments: Object.freeze([]), rest: false, captureNames: Object.freeze([]) });

  const parts = template.slice(1).split('/');
  const segments: TemplateSegment[] = [];
  const captureNames: string[] = [];
  let rest = false;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (part === '**') {
      if (i !== parts.length - 1) throw new PathTemplateError(template, "'**' is allowed only as the last segment");
      rest = true;
    } else if (part === '*') {
      segments.push(Object.freeze({ kind: 'wildcard' }));
    } else if (part.startsWith('{') && part.endsWith('}')) {
      const name = part.slice(1, -1);
      if (!CAPTURE_NAME.test(name)) throw new PathTemplateError(template, `capture name ${JSON.stringify(name)} must be letters, digits, '_' or '-', starting with a letter`);
      if (captureNames.includes(name)) throw new PathTemplateError(template, `capture {${name}} appears twice`);
      captureNames.push(name);
      segments.push(Object.freeze({ kind: 'capture', name }));
    } else if (part === '') {
      throw new PathTemplateError(template, i === parts.length - 1 ? "ends with '/': drop it (a request's trailing slash is ignored when matching)" : "contains an empty segment ('//')");
    } else if (part === '.' || part === '..') {
      throw new PathTemplateError(template, "'.' and '..' segments never occur in normalized paths");
    } else if (FORBIDDEN_IN_LITERAL.test(part)) {
      throw new PathTemplateError(template, `segment ${JSON.stringify(part)} mixes a literal with '{', '}', '*', '?', '#', '%' or whitespace; a capture or wildcard must be a whole segment`);
    } else {
      segments.push(Object.freeze({ kind: 'literal', text: part }));
    }
  }
  if (captureNames.length > MAX_CAPTURES) throw new PathTemplateError(template, `more than ${MAX_CAPTURES} captures`);
  return Object.freeze({ source: template, segments: Object.freeze(segments), rest, captureNames: Object.freeze(captureNames) });
}

const EMPTY_CAPTURES: Readonly<Record<string, string>> = Object.freeze({});
// Start/end offsets of captures while a match is in progress. Matching is
// synchronous, so one module-level buffer is safe and saves an allocation per try.
const captureOffsets = new Int32Array(MAX_CAPTURES * 2);

/**
 * Matches a normalized absolute path. Returns the captures (a shared frozen
 * empty object when the template has none) or null. Allocates only on a match.
 */
export function matchPathTemplate(template: PathTemplate, path: string): Readonly<Record<string, string>> | null {
  const len = path.length;
  if (len === 0 || path.charCodeAt(0) !== 47) return null;
  const segments = template.segments;
  if (segments.length === 0 && !template.rest) return len === 1 ? EMPTY_CAPTURES : null;

  let pos = 1; // start of the current path segment
  let captured = 0;
  for (let i = 0; i < segments.length; i++) {
    if (pos >= len) return null; // path ended (or ends in a slash) before the template did
    let end = path.indexOf('/', pos);
    if (end === -1) end = len;
    if (end === pos) return null; // empty segment: never a literal, a capture or '*'
    const seg = segments[i]!;
    if (seg.kind === 'literal') {
      if (end - pos !== seg.text.length || !path.startsWith(seg.text, pos)) return null;
    } else if (seg.kind === 'capture') {
      captureOffsets[captured * 2] = pos;
      captureOffsets[captured * 2 + 1] = end;
      captured++;
    }
    pos = end + 1;
  }
  // Without '**' the path must end exactly after the last segment (no trailing slash).
  if (!template.rest && pos !== len + 1) return null;
  if (captured === 0) return EMPTY_CAPTURES;
  const captures: Record<string, string> = {};
  const names = template.captureNames;
  for (let c = 0; c < captured; c++) captures[names[c]!] = path.slice(captureOffsets[c * 2]!, captureOffsets[c * 2 + 1]!);
  return captures;
}

/**
 * True when every path `later` matches is also matched by `earlier`
 * (used to find rules that can never match). Exact for this syntax.
 */
export function templateCovers(earlier: PathTemplate, later: PathTemplate): boolean {
  const a = earlier.segments;
  const b = later.segments;
  if (a.length === 0 && !earlier.rest) return b.length === 0 && !later.rest;
  if (b.length === 0 && !later.rest) return earlier.rest && a.length === 0; // only '/**' matches '/'
  for (let i = 0; i < a.length; i++) {
    // `later` may stop here (its '**' matching nothing) while `earlier` still needs a segment.
    if (i >= b.length) return false;
    const sa = a[i]!;
    const sb = b[i]!;
    if (sa.kind === 'literal' && (sb.kind !== 'literal' || sb.text !== sa.text)) return false;
  }
  if (earlier.rest) return true;
  return !later.rest && a.length === b.length;
}

/** FNV-1a over the UTF-16 code units of path[start, end): lets the route index look up a segment without slicing it. */
export function hashSegment(path: string, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ path.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

export function hashText(text: string): number {
  return hashSegment(text, 0, text.length);
}
