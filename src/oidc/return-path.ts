/**
 * Where a browser may be sent back after login: only a path on this origin.
 * Anything that a browser could read as another origin — `//evil`, `/\evil`,
 * `https://evil`, `javascript:`, and the same behind percent-encoding or
 * control characters — becomes `/`. Never an open redirect.
 */

const MAX_RETURN_PATH = 2048;

/** Safe relative path + query for a `Location` header; `/` when `raw` is not one. */
export function safeReturnPath(raw: string | null | undefined): string {
  if (!raw || raw.length > MAX_RETURN_PATH) return '/';
  // Must start with exactly one slash followed by something that is not a slash or backslash.
  if (raw[0] !== '/') return '/';
  // Decode repeatedly (bounded) so encoded forms (`/%2F%2Fevil`, `/%5Cevil`, `%252F`) are judged as a browser may.
  let decoded = raw;
  for (let i = 0; i < 3; i++) {
    let next: string;
    try {
      next = decodeURIComponent(decoded);
    } catch {
      return '/';
    }
    if (next === decoded) break;
    decoded = next;
  }
  // Controls (tab/newline are stripped by URL parsers, so `/\t/evil` is `//evil`) and backslashes are refused outright.
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f\\]/.test(decoded)) return '/';
  if (decoded.startsWith('//')) return '/';
  // Last check: resolved against a dummy origin, the URL must stay on it.
  try {
    const base = 'https://return.invalid';
    const resolved = new URL(raw, base);
    if (resolved.origin !== base) return '/';
    // Dot segments are resolved only here: `/.//evil` and `/a/..//evil` become `//evil`, a protocol-relative URL.
    const path = resolved.pathname;
    if (path.startsWith('//') || path.startsWith('/\\')) return '/';
    return path + resolved.search;
  } catch {
    return '/';
  }
}

/** The path + query of the request itself, as a return path. */
export function requestReturnPath(path: string, query: string): string {
  return safeReturnPath(query ? `${path}?${query}` : path);
}
