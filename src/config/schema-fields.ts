/**
 * Zod field types for config values: each checks one kind of value and
 * turns it into its typed form (duration → ms, "host:port" → HostPort…).
 * Problem messages say what is expected; they never echo the value, which
 * may be a secret or carry one (a URL's password).
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { CLIENT_AUTH_METHODS, type HostPort } from './types.js';
import { DURATION_FORMS, parseDurationMs } from './duration.js';
import { pathTemplateProblem } from './path-template.js';
import { compilePrincipalPattern } from '../authz/spiffe-id.js';

type Parsed<T> = { readonly value: T } | { readonly error: string };

/**
 * A field whose value is checked and converted by `parse`; `undefined` input = missing.
 * `type` names the accepted form for the generated configuration reference (config-reference.ts).
 */
export function field<T>(parse: (value: unknown) => Parsed<T>, type?: string) {
  const schema = z.unknown().transform((input, ctx): T => {
    const result = input === undefined ? { error: 'is required' } : parse(input);
    if ('error' in result) {
      ctx.issues.push({ code: 'custom', message: result.error, input });
      return z.NEVER;
    }
    return result.value;
  });
  return type === undefined ? schema : schema.meta({ type });
}

const ok = <T>(value: T): Parsed<T> => ({ value });
const fail = (error: string): Parsed<never> => ({ error });

export const text = field((v) => (typeof v === 'string' && v.trim() !== '' ? ok(v) : fail('must be a non-empty string')), 'string');

/** An absolute URL path without trailing slash, query or fragment (a route prefix such as /ext_authz). */
export const pathPrefix = field((v) =>
  typeof v === 'string' && /^\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*[^/]$/.test(v) && !v.includes('//')
    ? ok(v)
    : fail('must be an absolute path like /ext_authz (no trailing slash, query or fragment)'), 'URL path');

export const textList = field((v) => {
  if (!Array.isArray(v) || v.length === 0) return fail('must be a non-empty list of strings');
  if (!v.every((s) => typeof s === 'string' && s.trim() !== '')) return fail('every entry must be a non-empty string');
  return ok([...new Set(v as string[])]);
}, 'list of strings');

/**
 * JWT `typ` header values (`at+jwt`), compared as RFC 7515 §4.1.9 says: case-insensitive,
 * an `application/` prefix left out. Stored normalized (lower case, no prefix).
 */
export const jwtTypeList = field((v) => {
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || list.length === 0) return fail('must be a non-empty list of JWT typ values such as at+jwt');
  if (!list.every((s) => typeof s === 'string' && /^[!#$%&'*+.^_`|~0-9A-Za-z/-]+$/.test(s.trim()))) {
    return fail('every entry must be a media type such as at+jwt or application/at+jwt');
  }
  return ok([...new Set((list as string[]).map((s) => s.trim().toLowerCase().replace(/^application\//, '')))]);
}, 'list of JWT typ values');

/** A secret of at least 256 bits: its UTF-8 bytes are the key. */
export const secret = field((v) => {
  if (typeof v !== 'string') return fail('must be a string (quote it)');
  if (Buffer.byteLength(v, 'utf8') < 32) return fail('is shorter than 32 bytes (256 bits); use a long random value');
  return ok(v);
}, 'secret, ≥ 32 bytes');

const TRUE = new Set(['true', 'yes', 'on']);
const FALSE = new Set(['false', 'no', 'off']);

/** true/false, also as the strings an env substitution produces and YAML 1.1's yes/no/on/off; else undefined. */
export function asBoolean(v: unknown): boolean | undefined {
  if (typeof v === 'boolean') return v;
  if (typeof v !== 'string') return undefined;
  const word = v.trim().toLowerCase();
  return TRUE.has(word) ? true : FALSE.has(word) ? false : undefined;
}

export const bool = field((v) => {
  const b = asBoolean(v);
  return b === undefined ? fail('must be true or false') : ok(b);
}, 'boolean');

export function integer(min: number, max = Number.MAX_SAFE_INTEGER) {
  return field((v) => {
    const n = typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
      return fail(`must be a whole number from ${min}${max === Number.MAX_SAFE_INTEGER ? ' up' : ` to ${max}`}`);
    }
    return ok(n);
  }, max === Number.MAX_SAFE_INTEGER ? `integer ≥ ${min}` : `integer ${min}…${max}`);
}

/** Milliseconds; `minMs` 1 for "must be positive". */
export function duration(minMs = 0) {
  return field((v) => {
    const ms = parseDurationMs(v);
    if (ms === undefined) return fail(`must be ${DURATION_FORMS}`);
    if (ms < minMs) return fail(minMs === 1 ? 'must be longer than zero' : `must be at least ${minMs} ms`);
    return ok(ms);
  }, 'duration');
}

/** One of `values`, compared case-insensitively, returned as written in `values`. */
export function oneOf<const T extends string>(values: readonly T[]) {
  return field((v) => {
    const found = typeof v === 'string' ? values.find((x) => x.toLowerCase() === v.trim().toLowerCase()) : undefined;
    return found !== undefined ? ok(found) : fail(`must be one of ${values.join(' | ')}`);
  }, values.join(' | '));
}

/**
 * A token-endpoint auth method as Micronaut writes it (`client_secret_post`,
 * `CLIENT_SECRET_POST`, `client-secret-post`), normalized to the OAuth name.
 */
export const clientAuthMethod = field((v) => {
  const name = typeof v === 'string' ? v.trim().toLowerCase().replace(/-/g, '_') : '';
  const found = CLIENT_AUTH_METHODS.find((m) => m === name);
  if (found) return ok(found);
  if (name === 'tls_client_auth' || name === 'self_signed_tls_client_auth') return fail(`${name} is not supported; use ${CLIENT_AUTH_METHODS.join(' | ')}`);
  return fail(`must be one of ${CLIENT_AUTH_METHODS.join(' | ')}`);
}, CLIENT_AUTH_METHODS.join(' | '));

/** An absolute http(s) URL without credentials, query or fragment; trailing `/` dropped. */
export const httpUrl = field((v) => {
  const url = typeof v === 'string' ? safeUrl(v) : undefined;
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) return fail('must be an absolute http:// or https:// URL');
  if (url.username || url.password) return fail('must not contain a user name or password');
  if (url.search || url.hash) return fail('must not contain a query or fragment');
  return ok(url.href.replace(/\/+$/, ''));
}, 'http(s) URL');

/** A store URL (`postgres://user:pw@host/db`): credentials allowed, kept as written. */
export function storeUrl(protocols: readonly string[]) {
  return field((v) => {
    const url = typeof v === 'string' ? safeUrl(v) : undefined;
    if (!url || !protocols.includes(url.protocol) || !url.hostname) {
      return fail(`must be a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')} and naming a host`);
    }
    return ok(v as string);
  }, `${protocols.map((p) => `${p}//`).join(' or ')} URL`);
}

function safeUrl(text: string): URL | undefined {
  try {
    return new URL(text.trim());
  } catch {
    return undefined;
  }
}

/** "host:port", "[::]:9191", ":9191" or a bare port (all interfaces); port 0 = any free port (tests). */
export const hostPort = field((v): Parsed<HostPort> => {
  const spec = typeof v === 'number' ? String(v) : typeof v === 'string' ? v.trim() : '';
  const usage = 'must be "host:port" (e.g. 0.0.0.0:9191, [::]:9191) with a port from 0 to 65535';
  const bracketed = /^\[([^\]]*)\]:(\d{1,5})$/.exec(spec);
  const plain = /^([^:[\]]*):(\d{1,5})$/.exec(spec) ?? /^()(\d{1,5})$/.exec(spec);
  const match = bracketed ?? plain;
  if (!match || Number(match[2]) > 65_535) return fail(usage);
  const host = match[1] || '0.0.0.0';
  if (bracketed && isIP(host) !== 6) return fail('has an invalid IPv6 address in [brackets]');
  if (!bracketed && isIP(host) === 0 && !HOSTNAME.test(host)) return fail('has an invalid host name');
  return ok({ host, port: Number(match[2]) });
}, 'host:port');

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** Exact host name or `*.example.com`; lower-cased; no port (ports are ignored when matching). */
export const hostPattern = field((v) => {
  if (typeof v !== 'string') return fail('must be a host name or *.domain');
  const host = v.trim().toLowerCase();
  const bare = host.startsWith('*.') ? host.slice(2) : host;
  if (host.includes(':') && isIP(host) !== 6) return fail('must not include a port (ports are ignored when matching)');
  if (!HOSTNAME.test(bare) && isIP(host) === 0) return fail('must be a host name or *.domain');
  return ok(host);
}, 'host or *.domain');

/** Cookie domain: a host name, optionally with a leading dot. */
export const cookieDomain = field((v) =>
  typeof v === 'string' && HOSTNAME.test(v.trim().replace(/^\./, '')) ? ok(v.trim().toLowerCase()) : fail('must be a domain name'),
'domain');

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** HTTP header name, lower-cased (AuthRequest headers are lower-case). */
export const headerName = field((v) =>
  typeof v === 'string' && TOKEN.test(v.trim()) ? ok(v.trim().toLowerCase()) : fail('must be an HTTP header name'),
'header name');
export const cookieName = field((v) => (typeof v === 'string' && TOKEN.test(v) ? ok(v) : fail('must be a cookie name (letters, digits, -_.)')), 'cookie name');

export const cookiePath = field((v) =>
  typeof v === 'string' && v.startsWith('/') && !/[;\s]/.test(v) ? ok(v) : fail('must start with "/" and contain no ";" or spaces'),
'URL path');

export const methods = field((v) => {
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || list.length === 0) return fail('must be a non-empty list of HTTP methods');
  if (!list.every((m) => typeof m === 'string' && /^[A-Za-z]+$/.test(m))) return fail('every entry must be an HTTP method such as GET');
  return ok([...new Set((list as string[]).map((m) => m.toUpperCase()))]);
}, 'list of HTTP methods');

export const pathTemplate = field((v) => {
  if (typeof v !== 'string') return fail('must be a path template string such as "/api/v1/{tenant}/flows/**"');
  const problem = pathTemplateProblem(v);
  return problem ? fail(problem) : ok(v);
}, 'path template');

/** Kestra namespace: dot-separated names, e.g. `company.team`. */
export const namespace = field((v) =>
  typeof v === 'string' && /^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*$/.test(v) ? ok(v) : fail('must be a Kestra namespace such as company.team'),
'Kestra namespace');

/** Dot path into claims, array indexes allowed: `groups`, `resource_access.kestra.roles`, `a.b[0]`. */
export const claimPath = field((v) =>
  typeof v === 'string' && /^[^.[\]\s]+(?:\[\d+\])*(?:\.[^.[\]\s]+(?:\[\d+\])*)*$/.test(v)
    ? ok(v)
    : fail('must be a dot path into the token claims, e.g. groups or resource_access.kestra.roles'),
'claim path');

/** A SPIFFE id or a pattern of one (`spiffe://cluster.local/ns/kestra/sa/*`); see authz/spiffe-id.ts. */
export const principalPattern = field((v) => {
  try {
    return ok(compilePrincipalPattern(v).source);
  } catch (err) {
    return fail((err as Error).message);
  }
}, 'SPIFFE id or pattern');

export const principalPatterns = field((v) => {
  if (!Array.isArray(v) || v.length === 0) return fail('must be a non-empty list of SPIFFE ids or patterns (spiffe://cluster.local/ns/kestra/sa/*)');
  for (const [i, entry] of v.entries()) {
    try {
      compilePrincipalPattern(entry);
    } catch (err) {
      return fail(`entry ${i}: ${(err as Error).message}`);
    }
  }
  return ok(v as string[]);
}, 'list of SPIFFE ids or patterns');
