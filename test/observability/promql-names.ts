/**
 * The metric names a PromQL expression reads, for checking a dashboard
 * against a real scrape. A small lexer, not a parser: it drops what can
 * never name a metric (string literals, label matchers `{…}`, ranges `[…]`,
 * grouping lists `by(…)`/`without(…)`/`on(…)`/`ignoring(…)`/`group_*(…)`,
 * Grafana variables), then keeps the identifiers that are neither a
 * keyword/aggregation operator nor a function call (followed by `(`).
 * `{__name__=…}` selectors are refused rather than guessed.
 */

const KEYWORDS = new Set([
  // binary operators and modifiers
  'and', 'or', 'unless', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'offset', 'bool', 'atan2',
  // aggregation operators (`sum by (le) (…)`: not followed by `(` directly)
  'sum', 'min', 'max', 'avg', 'group', 'stddev', 'stdvar', 'count', 'count_values', 'bottomk', 'topk', 'quantile', 'limitk', 'limit_ratio',
  // number literals
  'inf', 'nan',
]);

const TOKEN = /(?:\d+(?:ms|[smhdwy]))+|0x[0-9a-fA-F]+|\d*\.?\d+(?:[eE][+-]?\d+)?|[A-Za-z_:][A-Za-z0-9_:]*|\S/g;
const IDENTIFIER = /^[A-Za-z_:][A-Za-z0-9_:]*$/;

export function metricNamesInPromql(expr: string): string[] {
  if (expr.includes('__name__')) throw new Error(`selectors on __name__ are not supported: ${expr}`);
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, ' ')
    .replace(/\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*/g, ' ')
    .replace(/\{[^{}]*\}/g, ' ')
    .replace(/\[[^[\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)/g, ' ');
  if (/[{}[\]"'`]/.test(stripped)) throw new Error(`unbalanced braces, brackets or quotes in: ${expr}`);
  const tokens = stripped.match(TOKEN) ?? [];
  const names = new Set<string>();
  tokens.forEach((token, i) => {
    if (!IDENTIFIER.test(token) || KEYWORDS.has(token.toLowerCase())) return;
    if (tokens[i + 1] === '(') return; // a function call
    names.add(token);
  });
  return [...names].sort();
}
