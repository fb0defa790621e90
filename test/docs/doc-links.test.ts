/**
 * Every relative link and #anchor in README.md and docs/ resolves: the file
 * (or folder) exists, and an anchor names a heading of the target Markdown
 * file by GitHub's slug rules. A page moved or a heading renamed without its
 * links would send a newcomer to GitHub's 404 or to the top of a long page.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import { anchorsOf, docFiles, githubSlug, linksOf, readDoc, REPO_ROOT } from '../helpers/doc-files.js';

async function exists(path: string): Promise<boolean> {
  return stat(join(REPO_ROOT, path)).then(() => true, () => false);
}

describe('documentation links', () => {
  test('GitHub slugs: punctuation dropped, spaces to hyphens, link text kept', () => {
    assert.equal(githubSlug('Envoy / Istio HTTP ext_authz'), 'envoy--istio-http-ext_authz');
    assert.equal(githubSlug('Worker processes (`serve --workers N`)'), 'worker-processes-serve---workers-n');
    assert.equal(githubSlug('RBAC: roles, bindings, namespaces, tenants'), 'rbac-roles-bindings-namespaces-tenants');
    assert.equal(githubSlug('See [the FAQ](faq.md) — later'), 'see-the-faq--later');
    assert.deepEqual([...anchorsOf('# A\n## A\n```\n# not a heading\n```\n### A\n')], ['a', 'a-1', 'a-2']);
  });

  test('every relative link and #anchor in README.md and docs/ resolves', async () => {
    const files = await docFiles();
    assert.ok(files.length >= 25, `only ${files.length} documentation files found`);
    const anchors = new Map<string, Set<string>>();
    const anchorsIn = async (path: string) => {
      if (!anchors.has(path)) anchors.set(path, anchorsOf(await readDoc(path)));
      return anchors.get(path)!;
    };
    const broken: string[] = [];
    let checked = 0;
    for (const file of files) {
      for (const { line, target } of linksOf(await readDoc(file))) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto: …: not ours to check offline
        checked++;
        const [pathPart, anchor] = target.split('#', 2) as [string, string | undefined];
        const path = pathPart === '' ? file : posix.normalize(posix.join(dirname(file), decodeURIComponent(pathPart)));
        const where = `${file}:${line}: ${target}`;
        if (path.startsWith('..')) { broken.push(`${where} (outside the repository)`); continue; }
        if (!(await exists(path))) {
          broken.push(`${where} (no such file)`);
          continue;
        }
        if (anchor !== undefined && path.endsWith('.md') && !(await anchorsIn(path)).has(anchor)) {
          broken.push(`${where} (no heading with anchor #${anchor} in ${path})`);
        }
      }
    }
    assert.ok(checked >= 100, `only ${checked} links checked`);
    assert.deepEqual(broken, []);
  });

  test("bench/README.md: the current-results table's links into its History resolve", async () => {
    // The table at the top points at the dated section behind each number; a renamed heading would orphan it.
    const bench = await readDoc('bench/README.md');
    const anchors = anchorsOf(bench);
    const links = linksOf(bench).filter(({ target }) => !/^[a-z][a-z0-9+.-]*:/i.test(target));
    assert.ok(links.length >= 10, `only ${links.length} links in bench/README.md`);
    const broken: string[] = [];
    for (const { line, target } of links) {
      const [pathPart, anchor] = target.split('#', 2) as [string, string | undefined];
      const path = pathPart === '' ? 'bench/README.md' : posix.normalize(posix.join('bench', decodeURIComponent(pathPart)));
      if (!(await exists(path))) broken.push(`bench/README.md:${line}: ${target} (no such file)`);
      else if (anchor !== undefined && path === 'bench/README.md' && !anchors.has(anchor)) broken.push(`bench/README.md:${line}: ${target} (no such heading)`);
    }
    assert.deepEqual(broken, []);
    for (const section of ['current-results', 'how-to-reproduce', 'history']) assert.ok(anchors.has(section), `no "${section}" section`);
  });

  test('the README is a front page: at most 250 lines, linking every page of docs/', async () => {
    const readme = await readDoc('README.md');
    assert.ok(readme.split('\n').length <= 250, `README.md has ${readme.split('\n').length} lines`);
    const linked = new Set<string>();
    for (const file of await docFiles()) {
      for (const { target } of linksOf(await readDoc(file))) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue;
        linked.add(posix.normalize(posix.join(dirname(file), target.split('#')[0]!)));
      }
    }
    const orphans = (await docFiles()).filter((f) => f !== 'README.md' && !linked.has(f));
    assert.deepEqual(orphans, [], 'pages no other page links to');
  });
});
