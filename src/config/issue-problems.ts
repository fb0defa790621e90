/**
 * Zod issues → config problems with the key as the operator wrote it and
 * its file line. Messages are ours or zod's generic ones; neither includes
 * the offending value (it may be a secret).
 */
import type { z } from 'zod';
import type { ConfigProblem } from '../core/errors.js';
import type { ConfigPath, SourcePositions } from './source-positions.js';

type Issue = z.core.$ZodIssue;

export function problemsFromIssues(issues: readonly Issue[], positions: SourcePositions): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const issue of issues) {
    const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        const at = positions.locate([...path, key]);
        problems.push({ ...at, message: `unknown key${hint(path, key)}` });
      }
      continue;
    }
    problems.push({ ...positions.locate(path), message: describe(issue) });
  }
  return problems;
}

/** Per-parse error map: plain-language messages for zod's built-in checks. */
export function issueMessage(issue: z.core.$ZodRawIssue): string | undefined {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return 'is required';
      return `must be ${article(issue.expected)}, not ${kindOf(issue.input)}`;
    case 'too_small':
      return issue.origin === 'array' ? `needs at least ${String(issue.minimum)} entr${issue.minimum === 1 ? 'y' : 'ies'}` : undefined;
    default:
      return undefined;
  }
}

function describe(issue: Issue): string {
  if (issue.code === 'invalid_key') {
    const inner = issue.issues[0];
    return inner ? inner.message : 'invalid name';
  }
  return issue.message;
}

function hint(path: ConfigPath, key: string): string {
  if (path[0] === 'authz') return ' under authz (kestra-authz rejects unknown authz keys; check the spelling)';
  return ` "${key}"`;
}

function article(expected: string): string {
  const words: Record<string, string> = { object: 'a map', array: 'a list', string: 'a string', number: 'a number', boolean: 'true or false' };
  return words[expected] ?? expected;
}

function kindOf(input: unknown): string {
  if (input === null) return 'null';
  if (Array.isArray(input)) return 'a list';
  if (typeof input === 'object') return 'a map';
  return `a ${typeof input}`;
}
