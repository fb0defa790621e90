/**
 * The configuration reference — docs/configuration.md "Configuration reference" and
 * `kestra-authz config reference` — generated from the zod schema the loader
 * validates with, so the documentation cannot list a key the loader rejects
 * or miss one it reads.
 *
 * Where each column comes from:
 *  - key path, nesting, list/map structure, "required": `configSchema`
 *    (schema.ts), walked here;
 *  - type: zod's own type for plain zod fields, else the `type` label each
 *    field helper registers as zod metadata (`f.field(parse, type)`);
 *  - description and default: config-descriptions.ts, keyed by key path,
 *    defaults taken from DEFAULTS (config-defaults.ts).
 *
 * Descriptions live in one map next to the schema rather than as
 * `.describe()` calls inside it: schema.ts stays a readable validation shape
 * (most fields are one-liners; ~120 descriptions would triple it), and the
 * map is checked both ways — `configReferenceProblems()` lists schema keys
 * without a description, descriptions of keys the schema no longer has, and
 * fields without a type label — and the test fails on any of them.
 */
import { z } from 'zod';
import { configSchema } from './schema.js';
import { CONFIG_KEY_DOCS, type KeyDoc } from './config-descriptions.js';

export const REFERENCE_START = '<!-- config-reference:start -->';
export const REFERENCE_END = '<!-- config-reference:end -->';

/** One row of the reference. */
export interface ConfigKeyEntry {
  /** `authz.bearer.issuers[].audiences`: `[]` = every entry of a list, `<name>` = a name the operator chooses. */
  readonly path: string;
  /** `value`: a setting; `list`/`map`: a list of entries / a map of named entries, whose keys follow as rows. */
  readonly kind: 'value' | 'list' | 'map';
  readonly type: string;
  /** Required where its parent is present. */
  readonly required: boolean;
}

type Schema = z.core.$ZodType;

interface Walk {
  readonly entries: ConfigKeyEntry[];
  readonly problems: string[];
}

/** Every key of the schema, in schema order. */
export function configKeyEntries(): ConfigKeyEntry[] {
  return walkSchema().entries;
}

/**
 * Why the reference cannot be rendered: a schema key without a description,
 * a description for a key the schema does not have, a field without a type
 * label, a zod construct the walker does not know. Empty when all is well.
 */
export function configReferenceProblems(docs: Readonly<Record<string, KeyDoc>> = CONFIG_KEY_DOCS): string[] {
  const { entries, problems } = walkSchema();
  const out = [...problems];
  const paths = new Set(entries.map((e) => e.path));
  for (const e of entries) {
    if (!Object.hasOwn(docs, e.path)) out.push(`${e.path}: no description in src/config/config-descriptions.ts`);
  }
  for (const path of Object.keys(docs)) {
    if (!paths.has(path)) out.push(`${path}: described in src/config/config-descriptions.ts but not a key of the schema`);
  }
  return out;
}

/** The Markdown reference (no trailing newline). Throws listing every problem when the descriptions are incomplete. */
export function renderConfigReference(docs: Readonly<Record<string, KeyDoc>> = CONFIG_KEY_DOCS): string {
  const problems = configReferenceProblems(docs);
  if (problems.length) throw new Error(`the configuration reference is incomplete:\n  - ${problems.join('\n  - ')}`);
  const entries = configKeyEntries();
  const lines: string[] = [
    '<!-- Generated from src/config/schema.ts and src/config/config-descriptions.ts; do not edit by hand.',
    '     Regenerate: npm run docs:config -->',
    '',
    'Notation: `[]` stands for every entry of a list, `<name>` for a name you choose. Durations: ISO-8601 (`PT5M`, `P1D`),',
    '`30s`/`5m`/`2h`/`1d`, or a number of seconds. Keys may be written in kebab-case or camelCase. "required" means',
    'required whenever the enclosing entry is present.',
  ];
  for (const root of ['kestra', 'micronaut', 'authz']) {
    lines.push('', `### \`${root}:\``, '', '| key | type | default | description |', '|---|---|---|---|');
    for (const e of entries.filter((x) => x.path === root || x.path.startsWith(`${root}.`))) {
      const doc = docs[e.path]!;
      lines.push(`| \`${e.path}\` | ${cell(e.type)} | ${cell(defaultCell(e, doc))} | ${cell(doc.text)} |`);
    }
  }
  return lines.join('\n');
}

function defaultCell(entry: ConfigKeyEntry, doc: KeyDoc): string {
  if (entry.required) return 'required';
  if (doc.default !== undefined) return `\`${doc.default}\``;
  return doc.defaultNote ?? '—';
}

/** Table cells: a `|` would end the cell, a newline the row. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');
}

/**
 * Replaces what lies between the reference markers in `document` with
 * `reference`; throws when the markers are missing or out of order.
 */
export function spliceConfigReference(document: string, reference: string): string {
  const start = document.indexOf(REFERENCE_START);
  const end = document.indexOf(REFERENCE_END);
  if (start === -1 || end === -1 || end < start) {
    throw new Error(`the document has no ${REFERENCE_START} … ${REFERENCE_END} section`);
  }
  return `${document.slice(0, start + REFERENCE_START.length)}\n${reference}\n${document.slice(end)}`;
}

/** The text between the markers, without the newline after the start marker and before the end marker. */
export function extractConfigReference(document: string): string | undefined {
  const start = document.indexOf(REFERENCE_START);
  const end = document.indexOf(REFERENCE_END);
  if (start === -1 || end === -1 || end < start) return undefined;
  return document.slice(start + REFERENCE_START.length, end).replace(/^\n/, '').replace(/\n$/, '');
}

function walkSchema(): Walk {
  const walk: Walk = { entries: [], problems: [] };
  visit(configSchema, '', true, walk);
  return walk;
}

function defOf(schema: Schema): z.core.$ZodTypeDef {
  return schema._zod.def;
}

/** Strips `.optional()`; reports whether it was there. */
function unwrap(schema: Schema): { inner: Schema; optional: boolean } {
  let inner = schema;
  let optional = false;
  for (;;) {
    const def = defOf(inner);
    if (def.type === 'optional') {
      optional = true;
      inner = (def as z.core.$ZodOptionalDef).innerType;
    } else {
      return { inner, optional };
    }
  }
}

function isObject(schema: Schema): boolean {
  return defOf(unwrap(schema).inner).type === 'object';
}

function visit(schema: Schema, path: string, required: boolean, walk: Walk): void {
  const { inner, optional } = unwrap(schema);
  const isRequired = required && !optional;
  const def = defOf(inner);
  switch (def.type) {
    case 'object': {
      const shape = (def as z.core.$ZodObjectDef).shape;
      for (const [key, child] of Object.entries(shape)) visit(child, path ? `${path}.${key}` : key, true, walk);
      return;
    }
    case 'array': {
      const element = (def as z.core.$ZodArrayDef).element;
      if (isObject(element)) {
        walk.entries.push({ path, kind: 'list', type: 'list of maps', required: isRequired });
        visit(element, `${path}[]`, true, walk);
      } else {
        walk.entries.push({ path, kind: 'value', type: `list of ${valueType(element, path, walk)}`, required: isRequired });
      }
      return;
    }
    case 'record': {
      const value = (def as z.core.$ZodRecordDef).valueType;
      if (isObject(value)) {
        walk.entries.push({ path, kind: 'map', type: 'map of name → settings', required: isRequired });
        visit(value, `${path}.<name>`, true, walk);
      } else {
        walk.entries.push({ path, kind: 'value', type: `map of ${valueType(value, path, walk)}`, required: isRequired });
      }
      return;
    }
    default:
      walk.entries.push({ path, kind: 'value', type: valueType(inner, path, walk), required: isRequired });
  }
}

/** The type label of a leaf: zod's own for plain zod types, the registered label for our field helpers. */
function valueType(schema: Schema, path: string, walk: Walk): string {
  const { inner } = unwrap(schema);
  const label = (z.globalRegistry.get(inner) as { type?: unknown } | undefined)?.type;
  if (typeof label === 'string') return label;
  const type = defOf(inner).type;
  if (type === 'string' || type === 'boolean' || type === 'number') return type;
  walk.problems.push(`${path}: no type label (give the field helper a type: field(parse, 'type'))`);
  return '?';
}
