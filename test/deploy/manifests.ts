/**
 * Reads the deploy/ manifests the way kubectl would: every YAML document of
 * a file (multi-document files included), refusing YAML errors and warnings
 * so a file that only "mostly" parses fails the tests.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export interface Manifest {
  readonly file: string;
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly labels?: Record<string, string>; readonly annotations?: Record<string, string> };
  readonly [key: string]: any;
}

/** Every document of `relativePath` (from the repository root), as plain data. */
export function loadDocuments(relativePath: string): any[] {
  const text = readFileSync(join(ROOT, relativePath), 'utf8');
  const docs = parseAllDocuments(text, { prettyErrors: true, uniqueKeys: true });
  const list = Array.isArray(docs) ? docs : [docs];
  const out: any[] = [];
  for (const doc of list) {
    assert.deepEqual(doc.errors.map(String), [], `${relativePath}: YAML errors`);
    assert.deepEqual(doc.warnings.map(String), [], `${relativePath}: YAML warnings`);
    const value = doc.toJS({ maxAliasCount: 0 });
    if (value !== null && value !== undefined) out.push(value);
  }
  return out;
}

/** Kubernetes objects of the given files, each tagged with its file (a non-enumerable `file`). */
export function loadManifests(relativePaths: readonly string[]): Manifest[] {
  return relativePaths.flatMap((file) => loadDocuments(file).map((doc) => {
    assert.equal(typeof doc.apiVersion, 'string', `${file}: apiVersion`);
    assert.equal(typeof doc.kind, 'string', `${file}: kind`);
    assert.equal(typeof doc.metadata?.name, 'string', `${file}: metadata.name`);
    // Non-enumerable: the tag must not look like a manifest field to the validators.
    Object.defineProperty(doc, 'file', { value: file, enumerable: false });
    return doc as Manifest;
  }));
}

/** The one object of this kind (and name, when given); fails when absent or ambiguous. */
export function only(manifests: readonly Manifest[], kind: string, name?: string): Manifest {
  const found = manifests.filter((m) => m.kind === kind && (name === undefined || m.metadata.name === name));
  assert.equal(found.length, 1, `exactly one ${kind}${name ? ` ${name}` : ''} (found ${found.length})`);
  return found[0]!;
}

/** Kubernetes label-selector semantics for matchLabels: every pair present in `labels`. */
export function selects(matchLabels: Record<string, string> | undefined, labels: Record<string, string> | undefined): boolean {
  if (!matchLabels || Object.keys(matchLabels).length === 0) return false; // an empty selector is never what we mean here
  return Object.entries(matchLabels).every(([k, v]) => labels?.[k] === v);
}
