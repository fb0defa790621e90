/**
 * Test-runner output of `kestra-authz test`: one line per case (`ok` /
 * `not ok` and its name), under each failure the expected and the actual
 * value of every field that differs, and one summary line at the end.
 */
import type { CaseResult } from './run-cases.js';

export interface SuiteResult {
  readonly file: string;
  /** Where the config came from (a path, or `<embedded default>`). */
  readonly configSource: string;
  readonly results: readonly CaseResult[];
}

/**
 * Control characters (a newline in a case name) shown escaped: no text from
 * a test file can start a line of its own — a fake `ok` or summary line a CI
 * system would read as the runner's.
 */
function oneLine(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export function caseLines(suite: SuiteResult, startAt: number): string[] {
  const lines = [`# ${suite.file} (config: ${suite.configSource})`];
  suite.results.forEach((r, i) => {
    const where = r.case.line === undefined ? suite.file : `${suite.file}:${r.case.line}`;
    lines.push(`${r.passed ? 'ok' : 'not ok'} ${startAt + i} - ${r.case.name}${r.passed ? '' : ` (${where})`}`);
    for (const m of r.mismatches) lines.push(...diffLines(m.field, m.expected, m.actual).map((l) => `    ${l}`));
  });
  return lines.map(oneLine);
}

export function diffLines(field: string, expected: string, actual: string): string[] {
  return [`${field}:`, `  - expected: ${expected}`, `  + actual:   ${actual}`];
}

/** The failure text of one case, for JUnit. */
export function failureText(r: CaseResult): string {
  return r.mismatches.flatMap((m) => diffLines(m.field, m.expected, m.actual)).join('\n');
}

export function counts(suites: readonly SuiteResult[]): { passed: number; failed: number } {
  let passed = 0;
  let failed = 0;
  for (const s of suites) for (const r of s.results) r.passed ? passed++ : failed++;
  return { passed, failed };
}
