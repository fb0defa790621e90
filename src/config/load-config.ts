/**
 * Loads the one YAML config file into a frozen `Config`, or fails with a
 * ConfigError listing every problem (dotted key as written + file line).
 * Steps: YAML → normalized tree (kebab keys, ${ENV}) → set aside unused
 * Kestra/Micronaut keys (warnings) → schema + cross-field checks → Config.
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { AuthzError, ConfigError, type ConfigProblem } from '../core/errors.js';
import type { Config } from './types.js';
import { buildConfig } from './build-config.js';
import { crossCheck } from './cross-checks.js';
import { deepFreeze } from './deep-freeze.js';
import { composeShadow, shadowOfShadowProblems } from './shadow-config.js';
import { issueMessage, problemsFromIssues } from './issue-problems.js';
import { isPlainMap, selectUsedKeys } from './kestra-keys.js';
import { configSchema } from './schema.js';
import { parseYamlTree } from './yaml-tree.js';

/** A config is a few KiB; refusing huge files keeps a mistake (a log file path) from eating memory. */
const MAX_CONFIG_BYTES = 1024 * 1024;

export const CONFIG_ENV_VAR = 'KESTRA_AUTHZ_CONFIG';

/** `--config` wins, then $KESTRA_AUTHZ_CONFIG; undefined = use the embedded default. */
export function resolveConfigPath(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (flag !== undefined && flag !== '') return flag;
  const fromEnv = env[CONFIG_ENV_VAR];
  return fromEnv !== undefined && fromEnv !== '' ? fromEnv : undefined;
}

export async function loadConfigFile(path: string, env: NodeJS.ProcessEnv = process.env): Promise<Config> {
  let text: string;
  try {
    const bytes = await readFile(path);
    if (bytes.length > MAX_CONFIG_BYTES) {
      throw new AuthzError('ERR_CONFIG_READ', `config file ${path} is larger than ${MAX_CONFIG_BYTES} bytes`);
    }
    text = bytes.toString('utf8');
  } catch (err) {
    if (err instanceof AuthzError) throw err;
    const code = (err as NodeJS.ErrnoException).code ?? 'unknown error';
    throw new AuthzError('ERR_CONFIG_READ', `cannot read config file ${path} (${code})`, { cause: err });
  }
  return parseConfig(text, path, env, dirname(resolve(path)));
}

/** `source` names the file in messages; `baseDir` resolves relative paths (authz.users.file). */
export function parseConfig(
  text: string,
  source: string,
  env: NodeJS.ProcessEnv = process.env,
  baseDir: string = process.cwd(),
  options: { readonly asShadow?: boolean } = {},
): Config {
  const tree = parseYamlTree(text, env);
  if (tree.value === undefined && tree.problems.length) throw new ConfigError(source, tree.problems);
  const problems: ConfigProblem[] = [];

  const root = tree.value ?? {};
  if (!isPlainMap(root)) {
    throw new ConfigError(source, [{ key: '(root)', line: 1, message: 'the config must be a YAML map (kestra:, micronaut:, authz: …)' }]);
  }
  const { selected, warnings } = selectUsedKeys(root, tree.positions);
  const parsed = configSchema.safeParse(selected, { error: issueMessage });
  if (!parsed.success) problems.push(...problemsFromIssues(parsed.error.issues, tree.positions));
  problems.push(...crossCheck(selected, tree.positions));
  if (tree.problems.length || problems.length || !parsed.success) {
    throw new ConfigError(source, ordered(tree.problems, problems));
  }

  const config = buildConfig(parsed.data, {
    source,
    baseDir,
    positions: tree.positions,
    warnings: [...tree.warnings, ...warnings],
  });
  const shadowFile = parsed.data.authz?.shadow;
  if (options.asShadow) {
    const nested = shadowOfShadowProblems(config, shadowFile, tree.positions);
    if (nested.length) throw new ConfigError(source, nested);
    return deepFreeze(config);
  }
  return deepFreeze(composeShadow(config, {
    file: shadowFile,
    line: tree.positions.lineOf(['authz', 'shadow']),
    baseDir,
    parse: (shadowText, shadowSource, shadowDir) => parseConfig(shadowText, shadowSource, env, shadowDir, { asShadow: true }),
  }));
}

/**
 * Sorted by line. A value the tree step already rejected (an unset ${VAR},
 * kept as "") would fail again in the schema ("too short", "not a URL"):
 * later problems at the same key and line are echoes and are left out.
 */
function ordered(treeProblems: readonly ConfigProblem[], later: readonly ConfigProblem[]): ConfigProblem[] {
  const id = (p: ConfigProblem): string => `${p.line ?? ''}\u0000${p.key}`;
  const rejected = new Set(treeProblems.map(id));
  const unique = [...treeProblems, ...later.filter((p) => !rejected.has(id(p)))];
  return unique
    .map((p, i) => ({ p, i }))
    .sort((a, b) => (a.p.line ?? Infinity) - (b.p.line ?? Infinity) || a.i - b.i)
    .map(({ p }) => p);
}
