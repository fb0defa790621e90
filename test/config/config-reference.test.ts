/**
 * The configuration reference is generated from the schema and cannot
 * drift: docs/configuration.md holds exactly the generator's output; every key it
 * lists is one the loader reads (probed through the real loader); every
 * documented default is the loader's effective default; every key of the
 * embedded default, the SPEC example and the config snippets of README.md
 * and docs/ (recipes, IdP pages…)
 * is in the reference.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import {
  configKeyEntries,
  configReferenceProblems,
  extractConfigReference,
  renderConfigReference,
  spliceConfigReference,
  type ConfigKeyEntry,
} from '../../src/config/config-reference.js';
import { CONFIG_KEY_DOCS } from '../../src/config/config-descriptions.js';
import { EMBEDDED_DEFAULT_YAML } from '../../src/config/embedded-default.js';
import { parseConfig } from '../../src/config/load-config.js';
import { kebabKey } from '../../src/config/key-case.js';
import { ConfigError } from '../../src/core/errors.js';
import { main, type CliIo } from '../../src/cli/main.js';
import { docFiles, fencedBlocks, readDoc } from '../helpers/doc-files.js';

// dist/test/config/ → repository root: documents are read from the source tree.
const root = (path: string) => fileURLToPath(new URL(`../../../${path}`, import.meta.url));
const REFERENCE_PAGE = root('docs/configuration.md');
const SPEC_EXAMPLE = root('test/fixtures/spec-example.yaml');
const REGENERATE = 'npm run docs:config';

const entries = configKeyEntries();
const byPath = new Map(entries.map((e) => [e.path, e]));

function isPlainMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Concrete YAML for a reference path: `[]` → the first entry, `<name>` → `probe`. */
function yamlSetting(path: string, value: unknown): unknown {
  const parts = path.replace(/\[\]/g, '.[]').split('.');
  const build = (i: number): unknown => {
    if (i === parts.length) return value;
    const part = parts[i]!;
    if (part === '[]') return [build(i + 1)];
    return { [part === '<name>' ? 'probe' : part]: build(i + 1) };
  };
  return build(0);
}

/** The key a problem names for that path (`authz.roles[0].name`, `…clients.probe.client-id`). */
function concreteKey(path: string): string {
  return path.replace(/\[\]/g, '[0]').replace(/<name>/g, 'probe');
}

/**
 * Every key path of a config-shaped YAML value, in reference notation.
 * Inside a `value` entry (a permission map, exporter headers) keys are data, not config keys.
 */
function keyPathsOf(node: unknown, path = '', out: string[] = []): string[] {
  if (Array.isArray(node)) {
    for (const item of node) keyPathsOf(item, `${path}[]`, out);
  } else if (isPlainMap(node)) {
    for (const [key, child] of Object.entries(node)) {
      // A dotted key (`micronaut.security.oauth2:`) is one key to the loader, not a path: quoted, it matches nothing.
      const segment = path === 'micronaut.security.oauth2.clients' ? '<name>' : key.includes('.') ? `"${key}"` : kebabKey(key);
      const full = path ? `${path}.${segment}` : segment;
      out.push(full);
      if (byPath.get(full)?.kind !== 'value') keyPathsOf(child, full, out);
    }
  }
  return out;
}

/** A key path is known when the reference lists it, or it is a section above listed keys. */
function isKnown(path: string): boolean {
  if (byPath.has(path)) return true;
  return entries.some((e) => e.path.startsWith(`${path}.`) || e.path.startsWith(`${path}[]`));
}

function unknownKeys(doc: unknown): string[] {
  return keyPathsOf(doc).filter((p) => !isKnown(p));
}

function capture(): { io: CliIo; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { stdout: (t) => out.push(t), stderr: (t) => err.push(t) }, out, err };
}

describe('configuration reference', () => {
  test('every schema key has a type and a description, and no description is stale', () => {
    assert.deepEqual(configReferenceProblems(), [], 'fix src/config/config-descriptions.ts (or the field helper\'s type label)');
    assert.ok(entries.length >= 90, `only ${entries.length} keys found: the schema walk lost a section`);
  });

  test('the problems list catches a missing and a stale description', () => {
    const docs = { ...CONFIG_KEY_DOCS, 'authz.no-such-key': { text: 'stale' } } as Record<string, { text: string }>;
    delete docs['authz.default'];
    assert.deepEqual(configReferenceProblems(docs), [
      'authz.default: no description in src/config/config-descriptions.ts',
      'authz.no-such-key: described in src/config/config-descriptions.ts but not a key of the schema',
    ]);
    assert.throws(() => renderConfigReference(docs), /authz\.default: no description/);
  });

  test('docs/configuration.md holds exactly the generated reference', async () => {
    const readme = await readFile(REFERENCE_PAGE, 'utf8');
    const section = extractConfigReference(readme);
    assert.ok(section !== undefined, 'docs/configuration.md lacks the <!-- config-reference:start --> … <!-- config-reference:end --> markers');
    assert.ok(section === renderConfigReference(), `docs/configuration.md's configuration reference is stale; regenerate it: ${REGENERATE}`);
    assert.equal(spliceConfigReference(readme, renderConfigReference()), readme);
  });

  test('every key of the schema is a row of the docs/configuration.md table', async () => {
    const section = extractConfigReference(await readFile(REFERENCE_PAGE, 'utf8')) ?? '';
    const missing = entries.filter((e) => !section.includes(`| \`${e.path}\` |`)).map((e) => e.path);
    assert.deepEqual(missing, []);
  });

  test('every listed setting is read by the loader: a wrong value there is a problem at that key', () => {
    // A list of lists is wrong for every kind of value we have (text, number, map, list of strings…).
    const wrong = [[[]]];
    const notRead: string[] = [];
    for (const entry of entries.filter((e: ConfigKeyEntry) => e.kind === 'value')) {
      try {
        parseConfig(JSON.stringify(yamlSetting(entry.path, wrong)), 'probe.yaml', {}, '/tmp');
        notRead.push(`${entry.path}: accepted`);
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        const key = concreteKey(entry.path);
        if (!err.problems.some((p) => p.key === key)) notRead.push(`${entry.path}: no problem at ${key} (${err.message})`);
      }
    }
    assert.deepEqual(notRead, []);
  });

  test('every documented default is the effective default', () => {
    // Keys only valid next to another setting are compared with that setting on both sides.
    const context: Record<string, unknown> = {
      'authz.sessions.prefix': { authz: { sessions: { store: 'redis', url: 'redis://127.0.0.1:6379' } } },
    };
    let checked = 0;
    for (const entry of entries) {
      const doc = CONFIG_KEY_DOCS[entry.path]!;
      // Keys inside list entries or named maps, or next to required keys, have no stand-alone default to compare.
      if (doc.default === undefined || /\[\]|<name>/.test(entry.path) || hasRequiredSibling(entry.path)) continue;
      const base = context[entry.path] ?? {};
      const withDefault = merge(base, yamlSetting(entry.path, parse(doc.default)));
      assert.deepEqual(
        effective(parseConfig(JSON.stringify(withDefault), 'default.yaml', {}, '/srv')),
        effective(parseConfig(JSON.stringify(base), 'base.yaml', {}, '/srv')),
        `${entry.path}: the documented default ${doc.default} is not what the loader uses when the key is absent`,
      );
      checked++;
    }
    assert.ok(checked >= 40, `only ${checked} defaults checked`);
  });

  test('every key of the embedded default and of the SPEC example is in the reference', async () => {
    assert.deepEqual(unknownKeys(parse(EMBEDDED_DEFAULT_YAML)), []);
    const spec = parse(await readFile(SPEC_EXAMPLE, 'utf8'));
    const keys = keyPathsOf(spec);
    assert.ok(keys.length > 40, 'the SPEC example was not read');
    assert.deepEqual(unknownKeys(spec), []);
  });

  test('every config snippet in README.md and docs/ uses keys of the reference and loads without a problem or warning', async () => {
    const blocks: { file: string; block: string }[] = [];
    for (const file of await docFiles()) {
      for (const block of fencedBlocks(await readDoc(file), '```yaml')) blocks.push({ file, block });
    }
    let checked = 0;
    const pages = new Set<string>();
    for (const { file, block } of blocks) {
      const doc = parse(block) as unknown;
      if (!isPlainMap(doc) || !Object.keys(doc).some((k) => /^(kestra|micronaut|authz)(\.|$)/.test(k))) continue;
      assert.deepEqual(unknownKeys(doc), [], `${file} yaml block:\n${block}`);
      // ${VARS} get a value long enough for a secret; snippets without a secret get the ephemeral-secret warning only.
      const env = Object.fromEntries([...block.matchAll(/\$\{([A-Za-z0-9_]+)/g)].map((m) => [m[1]!, 'a-placeholder-value-long-enough-for-a-secret']));
      const config = parseConfig(block, `${file} snippet`, env, '/tmp');
      const warnings = config.warnings.filter((w) => !w.startsWith('NO SECRET CONFIGURED'));
      assert.deepEqual(warnings, [], `${file} yaml block:\n${block}`);
      checked++;
      pages.add(file);
    }
    assert.ok(checked >= 8, `only ${checked} config snippets found in README.md and docs/`);
    // The front page's common case, the getting-started walkthrough and every IdP page carry a config that must keep loading.
    for (const page of ['README.md', 'docs/getting-started.md', 'docs/idps/keycloak.md', 'docs/idps/authentik.md', 'docs/idps/okta.md', 'docs/idps/google.md', 'docs/idps/dex.md']) {
      assert.ok(pages.has(page), `no config snippet checked in ${page}`);
    }
  });

  test('kestra-authz config reference prints it; --readme rewrites only the marked section', async () => {
    const { io, out } = capture();
    assert.equal(await main(['config', 'reference'], io), 0);
    assert.equal(out.join(''), renderConfigReference());

    const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = await mkdtemp(join(tmpdir(), 'config-reference-'));
    try {
      const file = join(dir, 'doc.md');
      await writeFile(file, '# Title\n<!-- config-reference:start -->\nold\n<!-- config-reference:end -->\nafter\n');
      const run = capture();
      assert.equal(await main(['config', 'reference', '--readme', file], run.io), 0);
      const text = await readFile(file, 'utf8');
      assert.equal(text, `# Title\n<!-- config-reference:start -->\n${renderConfigReference()}\n<!-- config-reference:end -->\nafter\n`);
      assert.match(run.out.join(''), /updated/);
      const again = capture();
      assert.equal(await main(['config', 'reference', '--readme', file], again.io), 0);
      assert.match(again.out.join(''), /up to date/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/** A built config without what differs between two loads of equivalent files (random secret, file name, warnings). */
function effective(config: object): unknown {
  const { secrets: _secrets, source: _source, warnings: _warnings, ...rest } = config as Record<string, unknown>;
  return JSON.parse(JSON.stringify(rest));
}

function merge(a: unknown, b: unknown): unknown {
  if (!isPlainMap(a) || !isPlainMap(b)) return b;
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = k in out ? merge(out[k], v) : v;
  return out;
}

function hasRequiredSibling(path: string): boolean {
  const parent = path.slice(0, path.lastIndexOf('.'));
  return entries.some((e) => e.required && e.path.startsWith(`${parent}.`) && !e.path.slice(parent.length + 1).includes('.'));
}
