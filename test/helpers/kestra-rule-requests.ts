/**
 * One concrete request per method of every built-in Kestra rule, for table
 * tests over the whole rule set: captures filled with plausible values
 * (`{tenant}` main, `{namespace}` company.team), `*` with a word, a trailing
 * `**` with nothing. Each request is what the rule's bare path looks like;
 * tests add endings (`/`, `//`, `/.`, `;x`) to it.
 */
import { kestraApiRules } from '../../src/authz/kestra-api-rules.js';

export interface RuleRequest {
  readonly ruleId: string;
  readonly method: string;
  readonly path: string;
}

/** Methods tried for a rule that names none. */
const ANY_METHOD = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];

const SAMPLE: Readonly<Record<string, string>> = { tenant: 'main', namespace: 'company.team', flowId: 'f', key: 'k' };

export function kestraRuleRequests(): RuleRequest[] {
  const out: RuleRequest[] = [];
  for (const rule of kestraApiRules()) {
    const path = rule.match.path
      .split('/')
      .filter((seg) => seg !== '**')
      .map((seg) => (seg === '*' ? 'restart' : seg.startsWith('{') ? (SAMPLE[seg.slice(1, -1)] ?? `${seg.slice(1, -1)}1`) : seg))
      .join('/') || '/';
    for (const method of rule.match.methods ?? ANY_METHOD) out.push({ ruleId: rule.id, method, path });
  }
  return out;
}

/** The endings the issue lists: each must be decided like the bare path, or refused with 400. */
export const ENDINGS: readonly string[] = ['/', '//', '/.', ';x', '/;x', '/./', '%2F', '%3Bx'];
