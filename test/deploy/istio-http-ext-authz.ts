/**
 * What an Istio sidecar does with an `envoyExtAuthzHttp` provider, written
 * down from Istio's documented semantics (mesh/v1alpha1/config.proto) and
 * Envoy's HTTP ext_authz filter, so the provider's header lists can be
 * exercised against the real HTTP door without a cluster:
 *
 * - the check request goes to `pathPrefix + original path` with the original
 *   method and Host, only the client headers matched by
 *   includeRequestHeadersInCheck, and the body (up to maxRequestBytes) only
 *   when includeRequestBodyInCheck is set;
 * - 200 = allow: response headers matched by headersToUpstreamOnAllow are set
 *   on the upstream request (overriding the client's), names listed in
 *   `x-envoy-auth-headers-to-remove` are removed from it, and headers matched
 *   by headersToDownstreamOnAllow are added to the client's response;
 * - 5xx or no answer = error: statusOnError (default 403), unless failOpen;
 * - any other status = deny: that status and body, with the response headers
 *   matched by headersToDownstreamOnDeny (Istio adds Location,
 *   WWW-Authenticate and Content-Length itself once the list is set).
 */
import { request } from 'node:http';
import { anyMatches, type HttpProvider } from './mesh-config-schema.js';

export interface ClientRequest {
  readonly method: string;
  readonly path: string;
  readonly host: string;
  /** Lower-case names. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
}

export type HeaderList = readonly (readonly [string, string])[];

export type Outcome =
  | {
      readonly allowed: true;
      /** The request Kestra receives: the client's headers after the mutations. */
      readonly upstreamHeaders: Readonly<Record<string, string>>;
      /** Headers added to Kestra's response on the way back. */
      readonly downstreamHeaders: HeaderList;
    }
  | {
      readonly allowed: false;
      readonly status: number;
      readonly downstreamHeaders: HeaderList;
      readonly body: string;
    };

const ALWAYS_ON_DENY = ['location', 'www-authenticate', 'content-length'];

interface AuthzAnswer {
  readonly status: number;
  readonly headers: HeaderList;
  readonly body: string;
}

function send(url: URL, method: string, headers: Record<string, string>, body: Buffer): Promise<AuthzAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, timeout: 30_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const pairs: [string, string][] = [];
        for (let i = 0; i < res.rawHeaders.length; i += 2) pairs.push([res.rawHeaders[i]!.toLowerCase(), res.rawHeaders[i + 1]!]);
        resolve({ status: res.statusCode ?? 0, headers: pairs, body: Buffer.concat(chunks).toString('utf8') });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('authz check timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

/** One client request through the provider, against the HTTP door at `authzBase` (`http://127.0.0.1:<port>`). */
export async function checkThroughHttpProvider(provider: HttpProvider, authzBase: string, client: ClientRequest): Promise<Outcome> {
  const headers: Record<string, string> = { host: client.host };
  for (const [name, value] of Object.entries(client.headers)) {
    if (anyMatches(provider.includeRequestHeadersInCheck, name)) headers[name] = value;
  }
  let body = Buffer.alloc(0);
  const limits = provider.includeRequestBodyInCheck;
  if (limits && client.body) {
    body = Buffer.from(client.body, 'utf8');
    if (limits.maxRequestBytes !== undefined && body.length > limits.maxRequestBytes) {
      if (!limits.allowPartialMessage) return { allowed: false, status: 413, downstreamHeaders: [], body: '' };
      body = body.subarray(0, limits.maxRequestBytes);
    }
  }
  headers['content-length'] = String(body.length);

  const url = new URL(`${provider.pathPrefix ?? ''}${client.path}`, authzBase);
  let answer: AuthzAnswer;
  try {
    answer = await send(url, client.method, headers, body);
  } catch {
    answer = { status: 503, headers: [], body: '' };
  }
  if (answer.status >= 500) {
    if (provider.failOpen) return { allowed: true, upstreamHeaders: { ...client.headers }, downstreamHeaders: [] };
    return { allowed: false, status: Number(provider.statusOnError ?? '403'), downstreamHeaders: [], body: '' };
  }
  if (answer.status === 200) {
    const upstream: Record<string, string> = { ...client.headers };
    for (const [name, value] of answer.headers) {
      if (anyMatches(provider.headersToUpstreamOnAllow, name)) upstream[name] = value;
    }
    const toRemove = answer.headers.filter(([n]) => n === 'x-envoy-auth-headers-to-remove').flatMap(([, v]) => v.split(','));
    for (const name of toRemove) delete upstream[name.trim().toLowerCase()];
    return {
      allowed: true,
      upstreamHeaders: upstream,
      downstreamHeaders: answer.headers.filter(([n]) => anyMatches(provider.headersToDownstreamOnAllow, n)),
    };
  }
  const denyList = provider.headersToDownstreamOnDeny;
  const downstream = denyList
    ? answer.headers.filter(([n]) => anyMatches(denyList, n) || ALWAYS_ON_DENY.includes(n))
    : answer.headers.filter(([n]) => n !== 'host');
  return { allowed: false, status: answer.status, downstreamHeaders: downstream, body: answer.body };
}
