/**
 * CSRF guard for our state-changing POSTs (/login, /logout): the browser's
 * `Origin` (else `Referer`) must name this host. Browsers send `Origin` on
 * every cross-origin POST, so a forged form from another site fails here.
 * A request with neither header is accepted only as JSON: a browser cannot
 * send a cross-site `application/json` POST without a CORS preflight, and
 * non-browser clients (curl, the CLI) send no Origin.
 */
import type { AuthRequest } from '../core/auth-request.js';

function hostOf(url: string): string | undefined {
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed.host.toLowerCase() : undefined;
  } catch {
    return undefined;
  }
}

export function isSameOrigin(req: AuthRequest, externalUrl: string | undefined): boolean {
  const allowed = new Set<string>();
  if (req.host) allowed.add(req.host);
  const external = externalUrl ? hostOf(externalUrl) : undefined;
  if (external) allowed.add(external);
  const origin = req.headers.origin;
  if (origin !== undefined) {
    const host = origin === 'null' ? undefined : hostOf(origin);
    return host !== undefined && allowed.has(host);
  }
  const referer = req.headers.referer;
  if (referer !== undefined) {
    const host = hostOf(referer);
    return host !== undefined && allowed.has(host);
  }
  return contentType(req) === 'application/json';
}

export function contentType(req: AuthRequest): string {
  return (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
}
