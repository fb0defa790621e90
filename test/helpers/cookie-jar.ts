/**
 * The few cookie rules a test client needs to play a browser against the
 * service: read Set-Cookie lines into a jar (name → value), remember a
 * cleared cookie as '' (so a test can see it was cleared), and send back the
 * cookies still set as one `cookie` header.
 */

/** A cookie jar: name → value; '' marks a cookie the server cleared. */
export type CookieJar = Map<string, string>;

/** Cookie name → value from Set-Cookie lines; a cookie being cleared maps to ''. */
export function cookiesFromSetCookie(lines: readonly string[]): CookieJar {
  const out: CookieJar = new Map();
  for (const line of lines) {
    const [pair = ''] = line.split(';');
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    const cleared = /;\s*max-age=0\b/i.test(line) || /;\s*expires=thu, 01 jan 1970/i.test(line);
    out.set(pair.slice(0, eq).trim(), cleared ? '' : pair.slice(eq + 1).trim());
  }
  return out;
}

/** Applies Set-Cookie lines to `jar` (later lines win) and returns the same jar. */
export function mergeSetCookie(jar: CookieJar, lines: readonly string[]): CookieJar {
  for (const [name, value] of cookiesFromSetCookie(lines)) jar.set(name, value);
  return jar;
}

/** The `cookie` request header for the jar's live cookies, with `extra` (`name=value`) appended. */
export function cookieHeader(jar: ReadonlyMap<string, string>, extra = ''): string {
  const pairs = [...jar].filter(([, v]) => v !== '').map(([n, v]) => `${n}=${v}`);
  if (extra) pairs.push(extra);
  return pairs.join('; ');
}
