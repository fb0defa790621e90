/**
 * Which headers describe the request the proxy will serve, per proxy kind
 * (`authz.http.forward-auth.trust`), and the refusals that keep a client from
 * re-describing it (docs/recipes/http-door.md).
 *
 * What each proxy does with the headers the door reads:
 *  - nginx `auth_request` passes EVERY client header to the auth subrequest;
 *    only what the recipe sets with `proxy_set_header` is the proxy's own
 *    (X-Original-URI/-Method, X-Forwarded-Host/-Proto/-For; the recipe blanks
 *    X-Forwarded-Uri/-Method). So under `nginx` the X-Forwarded-Uri/-Method
 *    dialect is never read.
 *  - Caddy 2.6 `forward_auth` sets X-Forwarded-Method/-Uri, its reverse proxy
 *    sets X-Forwarded-For/-Proto/-Host, and every other client header passes
 *    (X-Original-URI included). Traefik with `trustForwardHeader: false`
 *    writes its own X-Forwarded-*. Under `caddy`/`traefik` X-Original-* is
 *    never read.
 *  - Envoy's HTTP ext_authz sends `<prefix><original path>`; under `envoy`
 *    there is no forward-auth mode at all.
 *  - `auto` (the default, safe with an old recipe) takes the dialect whose URI
 *    header is present and refuses a request whose two dialects disagree
 *    (URI or method), so a client header never wins over the proxy's.
 * Any header read here arriving twice is refused: joined with ',' it would
 * describe a request nobody sent.
 */
import type { ForwardAuthTrust } from '../config/types.js';

export interface ForwardAuthDialect {
  readonly uri: string;
  readonly method: string;
  /** nginx's auth_request understands only 2xx/401/403. */
  readonly nginx: boolean;
}

const NGINX: ForwardAuthDialect = Object.freeze({ uri: 'x-original-uri', method: 'x-original-method', nginx: true });
const FORWARDED: ForwardAuthDialect = Object.freeze({ uri: 'x-forwarded-uri', method: 'x-forwarded-method', nginx: false });

/** Read in every mode: the host, scheme and client address of the request. */
const ALWAYS_READ: readonly string[] = ['host', 'x-forwarded-host', 'x-forwarded-proto', 'x-forwarded-for'];

/** What the door reads under one trust setting, compiled once per config. */
export interface ForwardedPolicy {
  readonly trust: ForwardAuthTrust;
  /** False under nginx/caddy/traefik: only Envoy sends to the ext_authz prefix. */
  readonly extAuthz: boolean;
  /** The dialects a forward-auth request may speak (none under `envoy`). */
  readonly dialects: readonly ForwardAuthDialect[];
  /** Header names that must not arrive twice. */
  readonly single: ReadonlySet<string>;
  /** `authz.http.client-cert-header` (lower-case): where the proxy puts the peer's certificate details; undefined = never read. */
  readonly clientCertHeader?: string;
}

export function forwardedPolicy(trust: ForwardAuthTrust, clientCertHeader?: string): ForwardedPolicy {
  const dialects = trust === 'auto' ? [FORWARDED, NGINX] : trust === 'nginx' ? [NGINX] : trust === 'envoy' ? [] : [FORWARDED];
  const single = new Set(ALWAYS_READ);
  for (const d of dialects) { single.add(d.uri); single.add(d.method); }
  // Two lines of it: one may be the client's, and which one the proxy wrote cannot be told.
  if (clientCertHeader !== undefined) single.add(clientCertHeader);
  return Object.freeze({
    trust, extAuthz: trust === 'auto' || trust === 'envoy', dialects: Object.freeze(dialects), single,
    ...(clientCertHeader === undefined ? {} : { clientCertHeader }),
  });
}

/** Why a request cannot be decided as sent; names headers, never echoes their values. */
export class ForwardedHeaderError extends Error {
  readonly code = 'ERR_FORWARDED_HEADERS' as const;
  constructor(message: string) {
    super(message);
    this.name = 'ForwardedHeaderError';
  }
}

/** The first header in `repeated` that the policy reads, if any. */
export function repeatedReadHeader(policy: ForwardedPolicy, repeated: readonly string[] | undefined): string | undefined {
  if (!repeated) return undefined;
  return repeated.find((name) => policy.single.has(name));
}

function present(headers: Record<string, string>, name: string): string | undefined {
  const value = headers[name];
  // An empty value describes nothing (a blanked header); it never selects a dialect.
  return value === undefined || value.trim() === '' ? undefined : value;
}

export interface ForwardAuthDescription {
  readonly dialect: ForwardAuthDialect;
  readonly uri: string;
  readonly method: string;
}

/**
 * The original request's URI and method as the trusted dialect says; undefined
 * when no trusted URI header is present (not a forward-auth request). Throws
 * ForwardedHeaderError when the dialects disagree or the method is missing.
 */
export function describeForwardAuth(policy: ForwardedPolicy, headers: Record<string, string>): ForwardAuthDescription | undefined {
  let chosen: ForwardAuthDialect | undefined;
  let uri: string | undefined;
  for (const dialect of policy.dialects) {
    const value = present(headers, dialect.uri);
    if (value === undefined) continue;
    if (uri !== undefined && value !== uri) {
      throw new ForwardedHeaderError(`${chosen!.uri} and ${dialect.uri} describe different requests`);
    }
    // nginx's dialect wins a tie: its answer must stay within 2xx/401/403.
    if (chosen === undefined || dialect.nginx) chosen = dialect;
    uri = value;
  }
  if (chosen === undefined || uri === undefined) return undefined;
  let method: string | undefined;
  for (const dialect of policy.dialects) {
    const value = present(headers, dialect.method);
    if (value === undefined) continue;
    if (method !== undefined && value.trim() !== method) {
      throw new ForwardedHeaderError(`${policy.dialects[0]!.method} and ${dialect.method} describe different methods`);
    }
    method = value.trim();
  }
  const own = present(headers, chosen.method);
  if (own === undefined) throw new ForwardedHeaderError(`${chosen.uri} without ${chosen.method}: the proxy must send the original method`);
  return { dialect: chosen, uri, method: own.trim() };
}
