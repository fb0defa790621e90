/**
 * `kestra-authz test CASES.yaml… [--config FILE] [--junit OUT] [--coverage]`:
 * table-driven policy tests, decided by the engine `serve` builds.
 * Exit 0 when every case passed, 1 when some failed, 2 when a test file or
 * a config cannot be used (every problem of every file listed, no case run).
 * The config: --config, else $KESTRA_AUTHZ_CONFIG, else the file's own
 * `config:` key (relative to it), else the embedded default.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { embeddedDefaultConfig, EMBEDDED_DEFAULT_SOURCE } from '../config/embedded-default.js';
import { loadConfigFile, resolveConfigPath } from '../config/load-config.js';
import type { Config } from '../config/types.js';
import { AuthzError } from '../core/errors.js';
import { coverageLines, ruleCoverage } from '../policy-tests/coverage.js';
import { junitXml } from '../policy-tests/junit.js';
import { loadCasesFile, type LoadedCases } from '../policy-tests/load-cases.js';
import { caseLines, counts, type SuiteResult } from '../policy-tests/report.js';
import { runCases } from '../policy-tests/run-cases.js';
import type { CliIo } from './main.js';
import { parseArgs } from './parse-args.js';

const FLAGS = { config: { type: 'string' }, junit: { type: 'string' }, coverage: { type: 'boolean' } } as const;

interface Planned {
  readonly cases: LoadedCases;
  readonly configSource: string;
  readonly config: Config;
}

/** Loads every file and every config first: a bad one stops the run before any case is decided. */
async function plan(files: readonly string[], flagConfig: string | undefined, io: CliIo): Promise<Planned[] | undefined> {
  const override = resolveConfigPath(flagConfig, process.env);
  const configs = new Map<string, Promise<Config>>();
  const configFor = (path: string | undefined): Promise<Config> => {
    const key = path ?? EMBEDDED_DEFAULT_SOURCE;
    let config = configs.get(key);
    if (config === undefined) {
      config = path === undefined ? Promise.resolve().then(() => embeddedDefaultConfig(process.env)) : loadConfigFile(path, process.env);
      configs.set(key, config);
    }
    return config;
  };
  const planned: Planned[] = [];
  const reported = new Set<string>();
  let bad = false;
  for (const file of files) {
    let cases: LoadedCases;
    try {
      cases = await loadCasesFile(file, process.env);
    } catch (err) {
      if (!(err instanceof AuthzError)) throw err;
      io.stderr(err.message);
      bad = true;
      continue;
    }
    const configPath = override ?? cases.configPath;
    const configSource = configPath ?? EMBEDDED_DEFAULT_SOURCE;
    try {
      planned.push({ cases, configSource, config: await configFor(configPath) });
    } catch (err) {
      if (!(err instanceof AuthzError)) throw err;
      if (!reported.has(configSource)) io.stderr(`config for ${file}: ${err.message}`);
      reported.add(configSource);
      bad = true;
    }
  }
  return bad ? undefined : planned;
}

/** False (and said why) when the report cannot be written: CI would otherwise read a stale or missing file as the result. */
async function writeJunit(path: string, suites: readonly SuiteResult[], io: CliIo): Promise<boolean> {
  try {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, junitXml(suites));
    return true;
  } catch (err) {
    io.stderr(`cannot write the JUnit report ${path} (${(err as NodeJS.ErrnoException).code ?? 'unknown error'})`);
    return false;
  }
}

export async function runTestCommand(args: string[], io: CliIo): Promise<number> {
  const { flags, positionals } = parseArgs(args, FLAGS);
  if (positionals.length === 0) throw new AuthzError('ERR_CLI_USAGE', 'test: name at least one policy test file (kestra-authz test CASES.yaml…)');
  const planned = await plan(positionals, flags.config, io);
  if (planned === undefined) {
    io.stderr('policy tests not run: fix the problems above');
    return 2;
  }
  const suites: SuiteResult[] = [];
  let number = 1;
  for (const p of planned) {
    let results;
    try {
      results = await runCases(p.config, p.cases.cases);
    } catch (err) {
      // A config the loader took but the engine cannot be built from is a bad config too.
      if (!(err instanceof AuthzError)) throw err;
      io.stderr(`config for ${p.cases.file}: ${err.message}`);
      io.stderr('policy tests stopped: fix the problems above');
      return 2;
    }
    const suite: SuiteResult = { file: p.cases.file, configSource: p.configSource, results };
    io.stdout(caseLines(suite, number).join('\n'));
    number += suite.results.length;
    suites.push(suite);
  }
  if (flags.coverage) {
    const byConfig = new Map<string, { config: Config; matched: Set<string> }>();
    suites.forEach((s, i) => {
      const entry = byConfig.get(s.configSource) ?? { config: planned[i]!.config, matched: new Set<string>() };
      for (const r of s.results) if (r.ruleId) entry.matched.add(r.ruleId);
      byConfig.set(s.configSource, entry);
    });
    for (const [source, { config, matched }] of byConfig) io.stdout(coverageLines(source, ruleCoverage(config, matched)).join('\n'));
  }
  const { passed, failed } = counts(suites);
  if (flags.junit !== undefined && !(await writeJunit(flags.junit, suites, io))) return 2;
  io.stdout(`${passed} passed, ${failed} failed`);
  return failed === 0 ? 0 : 1;
}
