/**
 * A JSON-able view of a Config for `config check` and logs, with every
 * secret replaced by '***': secret bytes, OIDC client secrets, passwords in
 * URLs (`redis://:pw@host` → `redis://:***@host`) and password-like query
 * parameters (`postgres://host/db?password=…`). Masking is by key name and
 * by value shape, so a secret added to Config later under a `secret`/
 * `password`/`token` key is masked without touching this file.
 */
import type { Config } from './types.js';

export const MASK = '***';

const SECRET_KEY = /secret|password|passwd|token|credential|private|^key$/i;
const SECRET_QUERY = /pass|secret|token|key|credential/i;
/** Maps whose every value is a secret (the collector's auth headers): names shown, values masked. */
const SECRET_VALUES_MAP = /^exportHeaders$/;

export function maskConfig(config: Config): unknown {
  return mask(config);
}

function mask(value: unknown): unknown {
  if (value === undefined || typeof value === 'function') return undefined;
  if (ArrayBuffer.isView(value)) return MASK; // secret bytes; not even their length is shown
  if (Array.isArray(value)) return value.map(mask);
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(value)) {
      if (child === undefined) continue;
      // Only string / byte values under a secret-sounding key are masked whole:
      // numbers and flags (tokenCacheSize, secrets.ephemeral) carry no secret.
      const secret = SECRET_KEY.test(key) && (typeof child === 'string' || ArrayBuffer.isView(child));
      if (SECRET_VALUES_MAP.test(key) && typeof child === 'object' && child !== null) {
        out[key] = Object.fromEntries(Object.keys(child).map((name) => [name, MASK]));
        continue;
      }
      out[key] = secret ? MASK : mask(child);
    }
    return out;
  }
  if (typeof value === 'string') return maskUrl(value);
  return value;
}

/** Masks the password part and secret-looking query parameters of a URL-shaped string. */
export function maskUrl(text: string): string {
  const url = /^([a-z][a-z0-9+.-]*:\/\/)([^?#]*)(.*)$/is.exec(text);
  if (!url) return text;
  const [, scheme, beforeQuery, queryAndFragment] = url as unknown as [string, string, string, string];
  // Userinfo ends at the LAST "@" before the query: a raw "@" or "/" inside
  // a password must not leave part of it visible. Over-masking a path is fine.
  let authority = beforeQuery;
  const at = beforeQuery.lastIndexOf('@');
  const colon = beforeQuery.indexOf(':');
  if (at > 0 && colon >= 0 && colon < at) authority = `${beforeQuery.slice(0, colon + 1)}${MASK}${beforeQuery.slice(at)}`;
  const query = queryAndFragment.replace(/([?&;][^=&;#]*=)([^&;#]*)/g, (whole, name: string) =>
    SECRET_QUERY.test(name) ? `${name}${MASK}` : whole,
  );
  return `${scheme}${authority}${query}`;
}
