/**
 * The documentation tree as the tests read it: README.md and every Markdown
 * file under docs/, from the source tree (not dist/), with the helpers the
 * doc tests share — fenced blocks, links, GitHub heading anchors.
 */
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join, relative } from 'node:path';

// dist/test/helpers/ → repository root.
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** README.md and docs/**\/*.md, as paths relative to the repository root (forward slashes). */
export async function docFiles(): Promise<string[]> {
  const found = ['README.md'];
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(join(REPO_ROOT, dir), { withFileTypes: true })) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory()) await walk(path);
      else if (entry.name.endsWith('.md')) found.push(path);
    }
  };
  await walk('docs');
  return found.sort();
}

export const readDoc = (path: string) => readFile(join(REPO_ROOT, path), 'utf8');
export const repoRelative = (absolute: string) => relative(REPO_ROOT, absolute).split('\\').join('/');

/** The lines of a Markdown text outside fenced code blocks (others replaced by ''), so line numbers stay right. */
export function proseLines(markdown: string): string[] {
  let fence: string | undefined;
  return markdown.split('\n').map((line) => {
    const open = /^\s*(```+|~~~+)/.exec(line);
    if (open) {
      if (fence === undefined) fence = open[1]![0]!;
      else if (open[1]![0] === fence) fence = undefined;
      return '';
    }
    return fence === undefined ? line : '';
  });
}

/**
 * GitHub's anchor for a heading: inline links reduced to their text, lower
 * case, every character that is not a letter, mark, digit, connector
 * (underscore), space or hyphen dropped, spaces turned into hyphens.
 */
export function githubSlug(heading: string): string {
  return heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

/** Every anchor a document offers: its headings' slugs, repeated ones suffixed -1, -2… as GitHub does. */
export function anchorsOf(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const line of proseLines(markdown)) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!heading) continue;
    const base = githubSlug(heading[1]!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

/** The inline links `[text](target)` of a document outside code, with their line numbers. */
export function linksOf(markdown: string): { line: number; target: string }[] {
  const links: { line: number; target: string }[] = [];
  proseLines(markdown).forEach((line, i) => {
    const prose = line.replace(/`[^`]*`/g, '');
    for (const m of prose.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) links.push({ line: i + 1, target: m[1]! });
  });
  return links;
}

/** The bodies of the fenced blocks opened with exactly `fence` (e.g. "```yaml", or "```" for blocks without a language). */
export function fencedBlocks(markdown: string, fence: string): string[] {
  const blocks: string[] = [];
  let open: { line: string; body: string[] } | undefined;
  for (const line of markdown.split('\n')) {
    if (open === undefined) {
      if (/^```/.test(line)) open = { line: line.trimEnd(), body: [] };
    } else if (/^```\s*$/.test(line)) {
      if (open.line === fence) blocks.push(open.body.join('\n'));
      open = undefined;
    } else {
      open.body.push(line);
    }
  }
  return blocks;
}
