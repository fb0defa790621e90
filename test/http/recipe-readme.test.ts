/**
 * The documented proxy recipes (docs/recipes/caddy.md, nginx.md) are the
 * ones the proxy tests run (test/helpers/proxies.ts): the Caddy block
 * directive for directive, and the nginx block's cookie handling line for
 * line (the documented nginx block is abridged elsewhere: one identity
 * header shown, directives paired).
 * A recipe fixed in the tests but not in the docs would leave readers on
 * the broken one (refreshed sessions that never reach the browser).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CADDY_RECIPE_STRIP, caddyForwardAuthSite, nginxAuthRequestServer } from '../helpers/proxies.js';
import { fencedBlocks, readDoc } from '../helpers/doc-files.js';

/** The first fenced block of a recipe page whose opening fence is `fence` (e.g. "```nginx"). */
async function firstBlock(page: string, fence: string): Promise<string> {
  const block = fencedBlocks(await readDoc(page), fence)[0];
  assert.ok(block !== undefined, `no ${fence} block in ${page}`);
  return block;
}

/** Directive lines without comments, indentation or repeated blanks. */
const directives = (text: string) => text.split('\n').map((l) => l.replace(/#.*$/, '').trim().replace(/\s+/g, ' ')).filter(Boolean);

describe('documented recipes = the tested recipes', () => {
  test('Caddy: the same directives', async () => {
    const tested = caddyForwardAuthSite({ authz: 'authz:8080', upstream: 'kestra:8080', stripHeaders: CADDY_RECIPE_STRIP });
    assert.deepEqual(directives(await firstBlock('docs/recipes/caddy.md', '```')), directives(tested));
  });

  test('nginx: every Set-Cookie line of the tested recipe is in the documented block', async () => {
    const readme = directives(await firstBlock('docs/recipes/nginx.md', '```nginx'));
    const tested = directives(nginxAuthRequestServer({ authz: 'http://authz:8080', upstream: 'http://kestra' }))
      .filter((line) => /set[-_]cookie/i.test(line));
    assert.ok(tested.length >= 20, 'the tested recipe reads and adds the numbered Set-Cookie headers');
    for (const line of tested) assert.ok(readme.includes(line), `docs/recipes/nginx.md block lacks: ${line}`);
    assert.ok(!readme.some((line) => line.includes('$upstream_http_set_cookie')), 'the one-cookie-only variable is gone');
  });
});
