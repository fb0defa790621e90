/**
 * The one reading of a `Cookie` request header, shared by everything that
 * looks at cookie names: authentication (which cookie is the session) and
 * the upstream rewrite (which cookies are ours to strip). Whatever name a
 * pair is authenticated under is the name it is stripped under, so a cookie
 * can never be read as our session and then passed on to the upstream as
 * somebody else's (`JWT =…`, `\tJWT=…`).
 *
 * A pair is the text between two `;`; its name is what precedes the first
 * `=`, with surrounding whitespace trimmed (RFC 6265 §5.2 trims the same way
 * when a browser stores a cookie); a part without `=` has no value and is
 * never a cookie we read.
 */

/**
 * Called for each non-empty pair, in order: `value` is undefined for a part
 * without `=` (its `name` is then the whole part); `pair` is the trimmed text
 * as sent. Return false to stop.
 */
export type CookieVisitor<S> = (state: S, name: string, value: string | undefined, pair: string) => boolean;

/**
 * Visits at most `limit` parts of `header` (empty parts between `;;` count
 * too, so a header of separators cannot make a bounded walk long).
 * Returns the state passed in.
 */
export function forEachCookie<S>(header: string, limit: number, state: S, visit: CookieVisitor<S>): S {
  let start = 0;
  let count = 0;
  while (start < header.length && count < limit) {
    let end = header.indexOf(';', start);
    if (end === -1) end = header.length;
    count++;
    const pair = header.slice(start, end).trim();
    start = end + 1;
    if (!pair) continue;
    const eq = pair.indexOf('=');
    const name = eq === -1 ? pair : pair.slice(0, eq).trimEnd();
    const value = eq === -1 ? undefined : pair.slice(eq + 1).trimStart();
    if (!visit(state, name, value, pair)) break;
  }
  return state;
}

/** A quoted cookie value (`"abc"`, RFC 6265 §4.1.1) without its quotes. */
export function unquotedCookieValue(value: string): string {
  return value.length >= 2 && value.charCodeAt(0) === 0x22 && value.charCodeAt(value.length - 1) === 0x22 ? value.slice(1, -1) : value;
}
