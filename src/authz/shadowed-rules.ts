/**
 * Finds operator rules that can never match because an earlier rule matches
 * every request they match (first match wins). Conservative: it warns only
 * when certain — same-or-wider methods, same-or-wider host, and a path
 * template that covers the later one segment by segment. Rules that do not
 * compile are skipped here; compileRouteTable reports them.
 */
import type { RuleConfig } from '../config/types.js';
import { parsePathTemplate, templateCovers, type PathTemplate } from './path-template.js';
import { compileHostPattern, compileMethods, hostCovers, methodsCover, type HostPattern } from './rule-match.js';

interface ComparableRule {
  readonly rule: RuleConfig;
  readonly template: PathTemplate;
  readonly methods: ReadonlySet<string> | null;
  readonly host: HostPattern | null;
}

function comparable(rule: RuleConfig): ComparableRule | undefined {
  try {
    return {
      rule,
      template: parsePathTemplate(rule.match.path),
      methods: compileMethods(rule.match.methods),
      host: compileHostPattern(rule.match.host),
    };
  } catch {
    return undefined;
  }
}

function describe(rule: RuleConfig): string {
  return `rule ${JSON.stringify(rule.id)}${rule.line === undefined ? '' : ` (line ${rule.line})`}`;
}

/** One warning per unreachable rule, naming it and the first earlier rule that hides it. */
export function findShadowedRules(rules: readonly RuleConfig[]): string[] {
  const compiled = rules.map(comparable);
  const warnings: string[] = [];
  for (let j = 1; j < compiled.length; j++) {
    const later = compiled[j];
    if (!later) continue;
    for (let i = 0; i < j; i++) {
      const earlier = compiled[i];
      if (!earlier) continue;
      // A rule limited to some mTLS peers covers nothing for certain: other callers pass it by.
      if (earlier.rule.match.principals !== undefined) continue;
      if (
        methodsCover(earlier.methods, later.methods) &&
        hostCovers(earlier.host, later.host) &&
        templateCovers(earlier.template, later.template)
      ) {
        warnings.push(
          `${describe(later.rule)} can never match: ${describe(earlier.rule)} comes first and matches every request it would ` +
            `(${earlier.template.source} covers ${later.template.source})`,
        );
        break;
      }
    }
  }
  return warnings;
}
