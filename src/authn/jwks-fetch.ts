/**
 * The HTTP side of a JWKS cache: OIDC discovery and the JWKS document, each
 * one bounded GET (timeout, no redirects, size cap). Failures are typed
 * (`code` + the `result` metric label) and their messages name only the
 * configured URLs and HTTP statuses.
 */
import { AuthzError } from '../core/errors.js';

/** Label values of `jwks_fetch_total{result}`. */
export type JwksFetchResult = 'ok' | 'error' | 'timeout' | 'invalid';

export class JwksFetchError extends AuthzError {
  readonly result: Exclude<JwksFetchResult, 'ok'>;
  constructor(result: Exclude<JwksFetchResult, 'ok'>, message: string, options?: { cause?: unknown }) {
    super(result === 'invalid' ? 'ERR_JWKS_INVALID' : 'ERR_JWKS_FETCH', message, options);
    this.result = result;
    this.name = 'JwksFetchError';
  }
}

export interface FetchLimits {
  readonly timeoutMs: number;
  /** Response bodies larger than this are refused (a JWKS is a few KB). */
  readonly maxBytes: number;
  /** Aborts the request early (cache closed). */
  readonly signal?: AbortSignal;
}

export const DEFAULT_MAX_JWKS_BYTES = 512 * 1024;

/** A URL as shown in messages: origin and path only, so userinfo or a query-string key never reaches a log. */
export function describeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.origin}${parsed.pathname}`;
  } catch {
    return '<invalid URL>';
  }
}

function isTimeout(err: unknown): boolean {
  return err instanceof Error && err.name === 'TimeoutError';
}

async function readBounded(response: Response, shown: string, maxBytes: number): Promise<string> {
  const declared = Number(response.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    await response.body?.cancel();
    throw new JwksFetchError('invalid', `${shown}: response larger than ${maxBytes} bytes`);
  }
  if (!response.body) return '';
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of response.body) {
    total += chunk.byteLength;
    if (total > maxBytes) {
      await response.body.cancel().catch(() => undefined);
      throw new JwksFetchError('invalid', `${shown}: response larger than ${maxBytes} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, total).toString('utf8');
}

/** GET a JSON object; anything else (status, size, syntax, shape) is a typed failure. */
export async function fetchJsonObject(url: string, limits: FetchLimits): Promise<Record<string, unknown>> {
  const shown = describeUrl(url);
  const timeout = AbortSignal.timeout(limits.timeoutMs);
  const signal = limits.signal ? AbortSignal.any([timeout, limits.signal]) : timeout;
  let text: string;
  try {
    // Redirects are not followed: the key source is exactly the configured (or discovered) URL.
    const response = await fetch(url, {
      method: 'GET',
      redirect: 'manual',
      signal,
      headers: { accept: 'application/json, application/jwk-set+json' },
    });
    if (response.status !== 200) {
      await response.body?.cancel().catch(() => undefined);
      throw new JwksFetchError('error', `${shown}: HTTP ${response.status}`);
    }
    text = await readBounded(response, shown, limits.maxBytes);
  } catch (err) {
    if (err instanceof JwksFetchError) throw err;
    if (isTimeout(err) || timeout.aborted) {
      throw new JwksFetchError('timeout', `${shown}: no answer within ${limits.timeoutMs} ms`, { cause: err });
    }
    throw new JwksFetchError('error', `${shown}: unreachable`, { cause: err });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new JwksFetchError('invalid', `${shown}: response is not JSON`, { cause: err });
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new JwksFetchError('invalid', `${shown}: response is not a JSON object`);
  }
  return doc as Record<string, unknown>;
}

export function discoveryUrlOf(issuer: string): string {
  return `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
}

/**
 * Finds `jwks_uri` through OIDC discovery. The document must name exactly
 * the configured issuer (OIDC Discovery §4.3), else a compromised or
 * misrouted discovery document could substitute another issuer's keys.
 */
export async function discoverJwksUri(issuer: string, limits: FetchLimits): Promise<string> {
  const url = discoveryUrlOf(issuer);
  const doc = await fetchJsonObject(url, limits);
  const shown = describeUrl(url);
  if (doc.issuer !== issuer) {
    throw new JwksFetchError('invalid', `${shown}: discovery document names another issuer than the configured ${describeUrl(issuer)}`);
  }
  const jwksUri = doc.jwks_uri;
  if (typeof jwksUri !== 'string') throw new JwksFetchError('invalid', `${shown}: no jwks_uri in the discovery document`);
  let parsed: URL;
  try {
    parsed = new URL(jwksUri);
  } catch (err) {
    throw new JwksFetchError('invalid', `${shown}: jwks_uri is not a URL`, { cause: err });
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw new JwksFetchError('invalid', `${shown}: jwks_uri must be http(s)`);
  }
  return parsed.href;
}

/** Fetches a JWKS document and returns its `keys` array (members not yet checked). */
export async function fetchJwksKeys(jwksUri: string, limits: FetchLimits): Promise<readonly unknown[]> {
  const doc = await fetchJsonObject(jwksUri, limits);
  if (!Array.isArray(doc.keys)) throw new JwksFetchError('invalid', `${describeUrl(jwksUri)}: no "keys" array in the JWKS`);
  return doc.keys;
}
