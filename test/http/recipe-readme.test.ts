/**
 * The README's proxy recipes are the ones the proxy tests run
 * (test/helpers/proxies.ts): the Caddy block directive for directive, and
 * the nginx block's cookie handling line for line (the README's nginx block
 * is abridged elsewhere: one identity header shown, directives paired).
 * A recipe fixed in the tests but not in the README would leave readers on
 * the broken one (refreshed sessions that never reach the browser).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { CADDY_RECIPE_STRIP, caddyForwardAuthSite, nginxAuthRequestServer } from '../helpers/proxies.js';

// dist/test/http/ → repository root: documents are read from the source tree.
const README = fileURLToPath(new URL('../../../README.md', import.meta.url));

/** The first fenced block after `heading` whose opening fence is `fence` (e.g. "```nginx"). */
function blockAfter(readme: string, heading: string, fence: string): string {
  const at = readme.indexOf(`\n${heading}\n`);
  assert.ok(at >= 0, `README has no "${heading}" section`);
  const start = readme.indexOf(`\n${fence}\n`, at);
  assert.ok(start >= 0, `no ${fence} block under "${heading}"`);
  const end = readme.indexOf('\n```', start + fence.length + 2);
  return readme.slice(start + fence.length + 2, end);
}

/** Directive lines without comments, indentation or repeated blanks. */
const directives = (text: string) => text.split('\n').map((l) => l.replace(/#.*$/, '').trim().replace(/\s+/g, ' ')).filter(Boolean);

describe('README recipes = the tested recipes', () => {
  test('Caddy: the same directives', async () => {
    const readme = await readFile(README, 'utf8');
    const tested = caddyForwardAuthSite({ authz: 'authz:8080', upstream: 'kestra:8080', stripHeaders: CADDY_RECIPE_STRIP });
    assert.deepEqual(directives(blockAfter(readme, '### Caddy', '```')), directives(tested));
  });

  test('nginx: every Set-Cookie line of the tested recipe is in the README block', async () => {
    const readme = directives(blockAfter(await readFile(README, 'utf8'), '### nginx', '```nginx'));
    const tested = directives(nginxAuthRequestServer({ authz: 'http://authz:8080', upstream: 'http://kestra' }))
      .filter((line) => /set[-_]cookie/i.test(line));
    assert.ok(tested.length >= 20, 'the tested recipe reads and adds the numbered Set-Cookie headers');
    for (const line of tested) assert.ok(readme.includes(line), `README nginx block lacks: ${line}`);
    assert.ok(!readme.some((line) => line.includes('$upstream_http_set_cookie')), 'the one-cookie-only variable is gone');
  });
});
