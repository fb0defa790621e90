/**
 * Reads one policy test file with the config's own YAML rules (yaml-tree.ts:
 * line numbers, alias and size caps, ${ENV} substitution) and validates it
 * with zod; every problem is listed with the file line, as for a config.
 * Header and claim names keep their spelling (they are data, not keys).
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { AuthzError, type ConfigProblem } from '../core/errors.js';
import { issueMessage, problemsFromIssues } from '../config/issue-problems.js';
import { parseYamlTree } from '../config/yaml-tree.js';
import { casesFileSchema, type TestCase } from './cases-schema.js';

/** Test files are small; the cap keeps a wrong path (a log file) from eating memory. */
const MAX_CASES_BYTES = 4 * 1024 * 1024;

export interface LoadedCases {
  readonly file: string;
  /** The `config:` key resolved against the file's directory, when given. */
  readonly configPath?: string;
  readonly cases: readonly LoadedCase[];
}

export interface LoadedCase extends TestCase {
  /** 1-based line of the case in its file. */
  readonly line?: number;
}

/** `cases[i].claims…`, `cases[i].request.headers`, `cases[i].expect.headers`: names as written. */
function isDataKeyed(path: readonly (string | number)[]): boolean {
  if (path[0] !== 'cases') return false;
  return path[2] === 'claims' || (path.length === 4 && path[3] === 'headers');
}

/** Every problem, one line each: `FILE:LINE: key: message` (values never echoed: a claim may be a secret). */
function casesError(file: string, problems: readonly ConfigProblem[]): AuthzError {
  const lines = problems.map((p) => `  - ${file}${p.line ? `:${p.line}` : ''}: ${p.key}: ${p.message}`);
  return new AuthzError('ERR_CASES_INVALID', `invalid policy test file (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${lines.join('\n')}`);
}

export function parseCases(text: string, file: string, env: NodeJS.ProcessEnv = process.env): LoadedCases {
  const tree = parseYamlTree(text, env, { dataKeyedMap: isDataKeyed, keepNulls: true });
  if (tree.problems.length) throw casesError(file, tree.problems);
  const parsed = casesFileSchema.safeParse(tree.value ?? {}, { error: issueMessage });
  if (!parsed.success) {
    const problems = problemsFromIssues(parsed.error.issues, tree.positions)
      .sort((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity));
    throw casesError(file, problems);
  }
  const { config, cases } = parsed.data;
  const loaded = cases.map((c, i): LoadedCase => {
    const line = tree.positions.lineOf(['cases', i]);
    return line === undefined ? c : { ...c, line };
  });
  return {
    file,
    ...(config === undefined ? {} : { configPath: resolve(dirname(resolve(file)), config) }),
    cases: loaded,
  };
}

export async function loadCasesFile(file: string, env: NodeJS.ProcessEnv = process.env): Promise<LoadedCases> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unknown error';
    throw new AuthzError('ERR_CASES_READ', `cannot read policy test file ${file} (${code})`, { cause: err });
  }
  if (bytes.length > MAX_CASES_BYTES) {
    throw new AuthzError('ERR_CASES_READ', `policy test file ${file} is larger than ${MAX_CASES_BYTES} bytes`);
  }
  return parseCases(bytes.toString('utf8'), file, env);
}
