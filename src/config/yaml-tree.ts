/**
 * YAML text → a plain value tree ready for validation, plus where every
 * value came from. On the way: keys normalized to kebab-case (both spellings
 * of one key is a problem), `${ENV}` substituted in string scalars, `null`
 * values dropped (`key:` with nothing after it means "not set", as in
 * Micronaut), aliases expanded with a cap.
 */
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { ConfigProblem } from '../core/errors.js';
import { isDataKeyedMap, kebabKey } from './key-case.js';
import { appendPath, SourcePositions, type ConfigPath } from './source-positions.js';
import { substituteEnv } from './substitute-env.js';

export interface ConfigTree {
  /** Plain objects / arrays / scalars; undefined for an empty document. */
  readonly value: unknown;
  readonly positions: SourcePositions;
  readonly problems: ConfigProblem[];
  readonly warnings: string[];
}

// Aliases can fan out exponentially ("billion laughs"); a config never needs many.
const MAX_ALIAS_EXPANSIONS = 100;
const MAX_DEPTH = 64;
// Values visited, aliases counted each time they expand: bounds the work a small hostile file can cause.
const MAX_VALUES = 100_000;

/** For other YAML files read with the config's rules (policy test cases). */
export interface YamlTreeOptions {
  /** Maps whose keys are data (header and claim names): spelling kept; default isDataKeyedMap (the config's). */
  readonly dataKeyedMap?: (path: readonly (string | number)[]) => boolean;
  /** Keep `key: null` in maps as null instead of dropping it (default false: null means "not set"). */
  readonly keepNulls?: boolean;
}

export function parseYamlTree(text: string, env: NodeJS.ProcessEnv, options: YamlTreeOptions = {}): ConfigTree {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const positions = new SourcePositions();
  const problems: ConfigProblem[] = [];
  const warnings: string[] = [];
  const lineAt = (offset: number | undefined): number | undefined =>
    offset === undefined ? undefined : lineCounter.linePos(offset).line;

  // Syntax errors: report them all; the tree after a syntax error is not trustworthy.
  // yaml's own messages describe the syntax, never echo the value.
  for (const error of doc.errors) {
    problems.push({ key: '(yaml)', line: lineAt(error.pos[0]), message: `YAML syntax: ${error.message}` });
  }
  if (problems.length) return { value: undefined, positions, problems, warnings };
  for (const warning of doc.warnings) {
    const line = lineAt(warning.pos[0]);
    warnings.push(`YAML${line ? ` line ${line}` : ''}: ${warning.message}`);
  }

  const walker = new TreeWalker(doc, env, positions, problems, lineAt, options.dataKeyedMap ?? isDataKeyedMap, options.keepNulls === true);
  const value = doc.contents ? walker.convert(doc.contents as Node, [], '') : undefined;
  return { value, positions, problems, warnings };
}

/** `key:` or `key: null` / `~` — not a value dropped for another reason (an alias cap, a tag). */
function isNullValue(node: Node | null): boolean {
  return node == null || (isScalar(node) && node.value === null);
}

class TreeWalker {
  private aliasExpansions = 0;
  private values = 0;

  constructor(
    private readonly doc: Document,
    private readonly env: NodeJS.ProcessEnv,
    private readonly positions: SourcePositions,
    private readonly problems: ConfigProblem[],
    private readonly lineAt: (offset: number | undefined) => number | undefined,
    private readonly dataKeyed: (path: readonly (string | number)[]) => boolean,
    private readonly keepNulls: boolean,
  ) {}

  /** Returns undefined for YAML null (an unset value). */
  convert(node: Node, path: ConfigPath, written: string, depth = 0): unknown {
    const line = this.lineAt(node.range?.[0]);
    if (++this.values > MAX_VALUES) {
      if (this.values === MAX_VALUES + 1) this.problem(written, line, `the file holds more than ${MAX_VALUES} values`);
      return undefined;
    }
    if (depth > MAX_DEPTH) {
      this.problem(written, line, `nested deeper than ${MAX_DEPTH} levels`);
      return undefined;
    }
    if (isAlias(node)) {
      if (++this.aliasExpansions > MAX_ALIAS_EXPANSIONS) {
        // Reported once: past the cap every further alias is the same problem.
        if (this.aliasExpansions === MAX_ALIAS_EXPANSIONS + 1) {
          this.problem(written, line, `more than ${MAX_ALIAS_EXPANSIONS} alias (*name) expansions; write the values out`);
        }
        return undefined;
      }
      const target = node.resolve(this.doc);
      return target ? this.convert(target, path, written, depth + 1) : undefined;
    }
    if (isScalar(node)) return this.scalar(node.value, written, line);
    if (isSeq(node)) {
      return node.items.map((item, index) => {
        const itemPath = [...path, index];
        const itemWritten = appendPath(written, [index]);
        const itemLine = this.lineAt((item as Node | null)?.range?.[0]) ?? line;
        if (itemLine !== undefined) this.positions.record(itemPath, itemLine, itemWritten);
        const value = item == null ? undefined : this.convert(item as Node, itemPath, itemWritten, depth + 1);
        return value === undefined ? null : value;
      });
    }
    if (isMap(node)) return this.map(node.items, path, written, line, depth);
    this.problem(written, line, 'unsupported YAML node');
    return undefined;
  }

  private map(
    pairs: readonly { key: unknown; value: unknown }[],
    path: ConfigPath,
    written: string,
    line: number | undefined,
    depth: number,
  ): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    const spelledAs = new Map<string, string>();
    const keepSpelling = this.dataKeyed(path);
    for (const pair of pairs) {
      const keyNode = pair.key as Node | null;
      const keyLine = this.lineAt(keyNode?.range?.[0]) ?? line;
      const rawKey = isScalar(keyNode) ? keyNode.value : undefined;
      if (typeof rawKey !== 'string' && typeof rawKey !== 'number' && typeof rawKey !== 'boolean') {
        this.problem(written || '(root)', keyLine, 'map keys must be plain strings');
        continue;
      }
      const spelled = String(rawKey);
      const key = keepSpelling ? spelled : kebabKey(spelled);
      const keyPath = [...path, key];
      const keyWritten = appendPath(written, [spelled]);
      const earlier = spelledAs.get(key);
      if (earlier !== undefined) {
        this.problem(keyWritten, keyLine, `"${earlier}" and "${spelled}" are the same key; keep one`);
        continue;
      }
      spelledAs.set(key, spelled);
      if (keyLine !== undefined) this.positions.record(keyPath, keyLine, keyWritten);
      const valueNode = pair.value as Node | null;
      const value = valueNode == null ? undefined : this.convert(valueNode, keyPath, keyWritten, depth + 1);
      if (value === undefined && !(this.keepNulls && isNullValue(valueNode))) continue;
      // defineProperty: a key spelled `__proto__` stays a plain (unknown) key.
      Object.defineProperty(out, key, { value: value ?? null, enumerable: true, writable: true, configurable: true });
    }
    return out;
  }

  private scalar(value: unknown, written: string, line: number | undefined): unknown {
    if (value === null || value === undefined) return undefined;
    if (typeof value === 'bigint') return Number(value);
    if (typeof value === 'number' || typeof value === 'boolean') return value;
    if (typeof value !== 'string') {
      // Tagged scalars such as !!binary or !!timestamp: no config value is one.
      this.problem(written, line, 'must be a plain string, number or boolean (YAML tags like !!binary are not supported)');
      return undefined;
    }
    const result = substituteEnv(value, this.env);
    if (result.ok) return result.value;
    const names = result.missing.join(', ');
    const plural = result.missing.length > 1;
    this.problem(
      written,
      line,
      `environment variable${plural ? 's' : ''} ${names} ${plural ? 'are' : 'is'} not set and no default is given (write \${${result.missing[0]}:default} for one)`,
    );
    // Kept as an empty string, not dropped: the key stays present, so no
    // "is required" / "store needs url" echo is reported for it elsewhere.
    // Later problems at this same key and line are left out (load-config.ts).
    return '';
  }

  private problem(key: string, line: number | undefined, message: string): void {
    this.problems.push({ key: key || '(root)', line, message });
  }
}
