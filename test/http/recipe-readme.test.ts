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
import { CADDY_RECIPE_STRIP, caddyForwardAuthSite, nginxAuthRequestServer, nginxAuthRequestUpstreams } from '../helpers/proxies.js';
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

  test('nginx: the upstream pools and the keep-alive lines of every location are in the documented block', async () => {
    const readme = await firstBlock('docs/recipes/nginx.md', '```nginx');
    const upstreams = directives(nginxAuthRequestUpstreams({ authz: 'http://authz:8080', upstream: 'http://kestra:8080' }));
    const documented = directives(readme);
    const at = documented.indexOf(upstreams[0]!);
    assert.ok(at >= 0, `docs/recipes/nginx.md block lacks: ${upstreams[0]}`);
    assert.deepEqual(documented.slice(at, at + upstreams.length), upstreams, 'the documented upstream blocks are the tested ones');
    // Each location that proxies speaks HTTP/1.1 without "Connection: close", in the docs as in the tests.
    const locations = (text: string) => text.split(/(?:^|\n)\s*location /).slice(1).map((body) => directives(body));
    const proxying = (text: string) => locations(text).filter((lines) => lines.some((l) => l.startsWith('proxy_pass ')));
    const testedLocations = proxying(nginxAuthRequestServer({ authz: 'http://authz:8080', upstream: 'http://kestra:8080' }));
    assert.equal(testedLocations.length, 3);
    assert.equal(proxying(readme).length, 3);
    for (const lines of [...testedLocations, ...proxying(readme)]) {
      assert.ok(lines.includes('proxy_http_version 1.1;'), `a location lacks proxy_http_version 1.1: ${lines[0]}`);
      assert.ok(lines.includes('proxy_set_header Connection "";'), `a location lacks the empty Connection header: ${lines[0]}`);
    }
    const passes = (lines: string[][]) => lines.map((l) => l.find((d) => d.startsWith('proxy_pass '))).sort();
    assert.deepEqual(passes(proxying(readme)), passes(testedLocations), 'the same proxy_pass targets (the upstream names)');
  });
});
