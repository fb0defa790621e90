/**
 * The shadow policy (docs/rules.md "Shadow rules"): `authz.shadow: FILE` names a
 * whole second config, and `shadow: true` marks single rules. How they
 * combine:
 * - the shadow base is the shadow file's config when `authz.shadow` is set,
 *   else this config itself;
 * - this config's `shadow: true` rules are in force in the shadow policy
 *   only: in place (same position) when the base is this config, before the
 *   shadow file's own rules when it is a file (first match wins, so they
 *   decide what they match);
 * - the live policy never sees a `shadow: true` rule.
 * A shadow file is loaded and validated like the main one (its problems name
 * it) and may not name a shadow of its own nor mark rules `shadow: true`.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ConfigError, type ConfigProblem } from '../core/errors.js';
import type { SourcePositions } from './source-positions.js';
import type { Config, RuleConfig } from './types.js';

/** The same bound as the main file's. */
const MAX_SHADOW_BYTES = 1024 * 1024;

export interface ShadowSource {
  /** `authz.shadow` as written, or undefined. */
  readonly file?: string;
  /** Line of `authz.shadow` in the main file. */
  readonly line?: number;
  readonly baseDir: string;
  /** Parses the shadow file's text as a shadow config (load-config.ts's parseConfig). */
  readonly parse: (text: string, source: string, baseDir: string) => Config;
}

/** `config` as built from the file (its rules still holding the `shadow: true` ones) → the live Config, with `shadow` set when configured. */
export function composeShadow(config: Config, source: ShadowSource): Config {
  const shadowRules = config.rules.filter((r) => r.shadow === true);
  if (source.file === undefined && shadowRules.length === 0) return config;
  const live: Config = { ...config, rules: config.rules.filter((r) => r.shadow !== true), shadow: undefined };
  const inForce = config.rules.map(withoutShadowFlag);
  let file: string | undefined;
  let policy: Config;
  if (source.file === undefined) {
    policy = { ...live, rules: inForce };
  } else {
    file = resolve(source.baseDir, source.file);
    const base = source.parse(readShadowText(file, config.source, source.line), file, dirname(file));
    policy = { ...base, rules: [...shadowRules.map(withoutShadowFlag), ...base.rules], shadow: undefined };
  }
  return { ...live, shadow: { file, ruleIds: shadowRules.map((r) => r.id), policy } };
}

/** Problems of a config loaded as a shadow: it cannot have a shadow of its own. */
export function shadowOfShadowProblems(config: Config, shadowFile: string | undefined, positions: SourcePositions): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  if (shadowFile !== undefined) {
    problems.push({ key: 'authz.shadow', line: positions.lineOf(['authz', 'shadow']), message: 'a shadow config cannot name a shadow config of its own' });
  }
  config.rules.forEach((rule, i) => {
    if (rule.shadow === true) {
      problems.push({ key: `authz.rules[${i}].shadow`, line: rule.line, message: 'every rule of a shadow config is in force in the shadow policy: drop `shadow: true`' });
    }
  });
  return problems;
}

function withoutShadowFlag(rule: RuleConfig): RuleConfig {
  if (rule.shadow !== true) return rule;
  const { shadow: _shadow, ...rest } = rule;
  return rest;
}

function readShadowText(file: string, mainSource: string, line: number | undefined): string {
  // Synchronous: config loading is not on the request path, and parseConfig is synchronous.
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unknown error';
    throw new ConfigError(mainSource, [{ key: 'authz.shadow', line, message: `cannot read the shadow config ${file} (${code})` }]);
  }
  if (bytes.length > MAX_SHADOW_BYTES) {
    throw new ConfigError(mainSource, [{ key: 'authz.shadow', line, message: `the shadow config ${file} is larger than ${MAX_SHADOW_BYTES} bytes` }]);
  }
  return bytes.toString('utf8');
}
