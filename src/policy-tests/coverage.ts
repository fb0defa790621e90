/**
 * `--coverage`: the route rules no case matched — the operator's rules by
 * id, the built-in Kestra API rule rows (kestra-api-rules.ts) and the
 * `default` rule — from the engine's own matched rule id per decision.
 */
import { compileRouteTable, type CompiledRule } from '../authz/route-table.js';
import type { Config } from '../config/types.js';

export interface Coverage {
  readonly total: number;
  readonly untouched: readonly CompiledRule[];
}

export function ruleCoverage(config: Config, matchedRuleIds: ReadonlySet<string>): Coverage {
  const rules = compileRouteTable(config).rules;
  return { total: rules.length, untouched: rules.filter((r) => !matchedRuleIds.has(r.id)) };
}

const SOURCE_NAMES: Readonly<Record<CompiledRule['source'], string>> = { user: 'rule', kestra: 'kestra rule', default: 'default rule' };

export function coverageLines(configSource: string, coverage: Coverage): string[] {
  const touched = coverage.total - coverage.untouched.length;
  const lines = [`coverage of ${configSource}: ${touched} of ${coverage.total} rules matched by a case`];
  if (coverage.untouched.length === 0) return lines;
  lines.push('rules no case matched:');
  for (const r of coverage.untouched) {
    const line = r.line === undefined ? '' : ` (line ${r.line})`;
    lines.push(`  ${SOURCE_NAMES[r.source].padEnd(12)} ${r.id.padEnd(36)} ${r.path} — ${r.label}${line}`);
  }
  return lines;
}
