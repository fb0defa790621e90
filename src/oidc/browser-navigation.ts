/**
 * Is this request a person's browser opening a page (→ send it to a login
 * page) or a script/API call (→ 401)? Redirecting an XHR to an IdP breaks
 * the calling app (mod_auth_openidc #220, Envoy #30102), so when in doubt
 * the answer is "not a navigation".
 */
import type { AuthRequest } from '../core/auth-request.js';

export function isBrowserNavigation(req: Pick<AuthRequest, 'method' | 'headers'>): boolean {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  const h = req.headers;
  if (h['x-requested-with'] !== undefined) return false;
  // Fetch metadata, when the browser sends it, is the most reliable signal.
  const mode = h['sec-fetch-mode'];
  if (mode !== undefined) return mode === 'navigate';
  const dest = h['sec-fetch-dest'];
  if (dest !== undefined && dest !== 'document' && dest !== 'iframe') return false;
  return prefersHtml(h.accept);
}

/**
 * True when `text/html` is explicitly acceptable and ranked at least as high
 * as JSON. `*\/*` alone (curl, most HTTP libraries) is not a preference for
 * HTML.
 */
export function prefersHtml(accept: string | undefined): boolean {
  if (!accept) return false;
  let html = -1;
  let json = -1;
  // Bounded: an Accept header has a handful of entries; a huge one is not a browser.
  const entries = accept.split(',', 32);
  for (const entry of entries) {
    const [rawType = '', ...params] = entry.split(';');
    const type = rawType.trim().toLowerCase();
    let q = 1;
    for (const param of params) {
      const [k, v] = param.split('=');
      if (k?.trim().toLowerCase() === 'q') {
        const n = Number(v?.trim());
        q = Number.isFinite(n) && n >= 0 && n <= 1 ? n : 0;
      }
    }
    if (type === 'text/html' || type === 'application/xhtml+xml') html = Math.max(html, q);
    else if (type === 'text/*' && html < 0) html = q;
    else if (type === 'application/json' || type.endsWith('+json')) json = Math.max(json, q);
  }
  return html > 0 && html >= json;
}
