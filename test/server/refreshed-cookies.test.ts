/**
 * How the HTTP door renders an allow that carries a refreshed session's
 * cookies, per caller (refreshed-cookies.ts), including the attacker's side:
 * the 307 goes to the proxy-described URL only when that is a path on this
 * origin (never `//evil`), and never for a script's call or a non-GET.
 * The end-to-end proof with real proxies is test/e2e/refresh-behind-proxies.test.ts.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Decision, HeaderPair } from '../../src/core/decision.js';
import type { HttpAuthQuestion } from '../../src/server/http-request.js';
import { numberedSetCookies, refreshRedirect } from '../../src/server/refreshed-cookies.js';

const COOKIES: HeaderPair[] = [['set-cookie', 'JWT=new; Path=/; HttpOnly; SameSite=Lax'], ['set-cookie', 'JWT_REFRESH_TOKEN=r2; Path=/; HttpOnly; SameSite=Lax']];
const NAVIGATION = { accept: 'text/html,*/*;q=0.8', 'sec-fetch-mode': 'navigate' };

function allowed(responseHeaders: readonly HeaderPair[] = COOKIES): Decision {
  return {
    allow: true, status: 200, reason: 'permitted', message: 'permitted', requestId: 'r1', ruleId: 'default', ruleLabel: 'default',
    upstreamHeaders: [], upstreamHeadersToRemove: [], responseHeaders, body: '', metadata: {},
  };
}

// peerPrincipal stays out: a refreshed cookie is a browser's, never a workload's.
function question(over: Partial<Omit<HttpAuthQuestion, 'peerPrincipal'>> = {}): HttpAuthQuestion {
  return {
    mode: 'forward-auth', nginx: false, method: 'GET', rawPath: '/flows/main?tab=1', scheme: 'https', host: 'kestra.example.com',
    headers: NAVIGATION, requestId: 'r1', sourceAddress: '127.0.0.1', peerPrincipal: '', ...over,
  };
}

describe('refreshed cookies behind forward-auth proxies', () => {
  test('Caddy/Traefik navigation with new cookies → 307 to the same URL carrying them', () => {
    assert.deepEqual(refreshRedirect(allowed(), question()), { location: '/flows/main?tab=1', cookies: COOKIES });
    assert.deepEqual(refreshRedirect(allowed(), question({ method: 'HEAD' }))?.location, '/flows/main?tab=1');
  });

  test('no 307: nothing to deliver, a script or API call, a non-GET, a denial, nginx, Envoy ext_authz, our own endpoints', () => {
    const cases: Array<[string, Decision, HttpAuthQuestion]> = [
      ['no new cookie', allowed([['x-other', '1']]), question()],
      ['fetch()', allowed(), question({ headers: { accept: '*/*', 'sec-fetch-mode': 'cors' } })],
      ['XHR', allowed(), question({ headers: { ...NAVIGATION, 'x-requested-with': 'XMLHttpRequest' } })],
      ['API client', allowed(), question({ headers: { accept: 'application/json' } })],
      ['form POST', allowed(), question({ method: 'POST' })],
      ['a denial', { ...allowed(), allow: false, status: 401 }, question()],
      ['nginx (numbered headers instead)', allowed(), question({ nginx: true })],
      ['Envoy HTTP ext_authz (allowed_client_headers_on_success)', allowed(), question({ mode: 'ext-authz' })],
      ['direct', allowed(), question({ mode: 'direct' })],
    ];
    for (const [what, decision, q] of cases) assert.equal(refreshRedirect(decision, q), undefined, what);
  });

  test('a proxy-described URL that would leave the origin becomes `/`', () => {
    for (const rawPath of ['//evil.example/x', '/\\evil.example', '/%2F%2Fevil.example', 'https://evil.example/', '/%09/evil.example']) {
      assert.equal(refreshRedirect(allowed(), question({ rawPath }))?.location, '/', rawPath);
    }
  });

  test('nginx: each Set-Cookie line once more as X-Authz-Set-Cookie-<n>, numbered from 1, nothing else', () => {
    const pairs: HeaderPair[] = [['location', '/x'], ...COOKIES, ['cache-control', 'no-store']];
    assert.deepEqual(numberedSetCookies(pairs), [['x-authz-set-cookie-1', COOKIES[0]![1]], ['x-authz-set-cookie-2', COOKIES[1]![1]]]);
    assert.deepEqual(numberedSetCookies([['location', '/x']]), []);
  });
});
