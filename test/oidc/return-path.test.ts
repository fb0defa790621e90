/** Return paths after login and the browser/API split of the login redirect. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createAuthRequest } from '../../src/core/auth-request.js';
import { isBrowserNavigation, prefersHtml } from '../../src/oidc/browser-navigation.js';
import { safeReturnPath } from '../../src/oidc/return-path.js';

describe('safeReturnPath', () => {
  test('same-origin paths are kept', () => {
    assert.equal(safeReturnPath('/ui/flows?ns=a&x=%2F'), '/ui/flows?ns=a&x=%2F');
    assert.equal(safeReturnPath('/'), '/');
    assert.equal(safeReturnPath('/a/../b'), '/b');
  });
  test('everything that could leave the origin becomes /', () => {
    for (const evil of [
      '//evil', '/\\evil', '\\\\evil', 'https://evil', 'http:evil', 'javascript:alert(1)', 'JaVaScRiPt:alert(1)',
      '/%2F%2Fevil', '/%2f/evil', '/%5Cevil', '%2F%2Fevil', '/%252F%252Fevil', '/\t/evil', '/\n/evil', ' //evil',
      'data:text/html,x', '', undefined, null, '/x'.repeat(2000),
    ]) {
      assert.equal(safeReturnPath(evil), '/', JSON.stringify(evil));
    }
  });
  test('dot segments that resolve to a protocol-relative URL become /', () => {
    for (const evil of ['/.//evil', '/a/..//evil', '/..//evil', '/%2e//evil', '/%2E%2E//evil', '/x/%2e%2e//evil', '/./\\evil']) {
      assert.equal(safeReturnPath(evil), '/', JSON.stringify(evil));
    }
    assert.equal(safeReturnPath('/a/./b/../c?x=1'), '/a/c?x=1');
  });
});

describe('browser navigation', () => {
  const req = (method: string, headers: Record<string, string>) => createAuthRequest({ method, path: '/x', headers })!;
  test('Accept q-values', () => {
    assert.equal(prefersHtml('text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'), true);
    assert.equal(prefersHtml('application/json, text/plain, */*'), false);
    assert.equal(prefersHtml('*/*'), false);
    assert.equal(prefersHtml('text/html;q=0.1, application/json'), false);
    assert.equal(prefersHtml('application/json;q=0.5, text/html'), true);
    assert.equal(prefersHtml('text/html;q=0'), false);
  });
  test('fetch metadata and XHR markers win over Accept', () => {
    assert.equal(isBrowserNavigation(req('GET', { 'sec-fetch-mode': 'navigate', accept: '*/*' })), true);
    assert.equal(isBrowserNavigation(req('GET', { 'sec-fetch-mode': 'cors', accept: 'text/html' })), false);
    assert.equal(isBrowserNavigation(req('GET', { 'x-requested-with': 'XMLHttpRequest', accept: 'text/html' })), false);
    assert.equal(isBrowserNavigation(req('GET', { accept: 'text/html' })), true);
    assert.equal(isBrowserNavigation(req('HEAD', { accept: 'text/html' })), true);
    assert.equal(isBrowserNavigation(req('POST', { 'sec-fetch-mode': 'navigate', accept: 'text/html' })), false);
    assert.equal(isBrowserNavigation(req('GET', { 'sec-fetch-dest': 'image', accept: 'text/html' })), false);
    assert.equal(isBrowserNavigation(req('GET', {})), false);
  });
});
