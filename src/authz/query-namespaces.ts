/**
 * The namespaces a search can return, read from its query string, for rules
 * whose namespace comes from the query (`namespaceFrom: 'query'`: Kestra's
 * flows/executions/logs/triggers search). The answer is a bound, never a
 * guess: either every namespace the search can return lies within the listed
 * namespaces (each with its children), or the search is unbounded and only a
 * grant not limited to a namespace may run it.
 *
 * What bounds a search (Kestra ANDs its filters, and a namespace filter
 * returns the namespace and its children):
 * - `namespace=<ns>` (Kestra's prefix filter: `<ns>` and its children);
 * - `filters[namespace][EQUALS]=<ns>`, `filters[namespace][PREFIX]=<ns>`,
 *   `filters[namespace][IN]=<ns>,<ns>…` (Kestra's filter syntax).
 * Every such value must be a well-formed namespace, and every one of them is
 * checked (a repeated parameter may be read first-wins or last-wins).
 * What makes it unbounded: no bounding filter at all; a bounding filter with
 * an empty or malformed value (`company.%`, `a b`); any other key that names
 * the namespace (other operators such as `NOT_EQUALS`, `CONTAINS`, `REGEX`,
 * `STARTS_WITH`, lower-case operators, `Namespace=`, `filters[0][field]=namespace`):
 * we cannot tell how the upstream reads it, so we do not let it narrow; a
 * malformed percent-escape anywhere in the query.
 * Keys and values are percent-decoded (`+` is a space) and pairs split on `&`
 * and `;`, as Netty's query decoder does, so `%6Eamespace=` is `namespace=`.
 */
import { namespaceProblem } from './namespaces.js';

/** `null`: the search may return any namespace. Otherwise the namespaces (each with its children) it is limited to. */
export type QueryNamespaces = readonly string[] | null;

/** More pairs than this: unbounded (no real search has them; bounds the work). */
const MAX_PAIRS = 256;
const BOUNDING_OPERATORS: ReadonlySet<string> = new Set(['EQUALS', 'PREFIX', 'IN']);
const FILTER_PREFIX = 'filters[namespace][';

export function queryNamespaces(query: string): QueryNamespaces {
  if (query === '') return null;
  const namespaces: string[] = [];
  let pairs = 0;
  let start = 0;
  while (start <= query.length) {
    let end = start;
    while (end < query.length && query.charCodeAt(end) !== 38 /* & */ && query.charCodeAt(end) !== 59 /* ; */) end++;
    if (end > start) {
      if (++pairs > MAX_PAIRS) return null;
      const eq = query.indexOf('=', start);
      const hasValue = eq !== -1 && eq < end;
      const key = decode(query.slice(start, hasValue ? eq : end));
      const value = hasValue ? decode(query.slice(eq + 1, end)) : '';
      if (key === null || value === null) return null;
      const verdict = readPair(key, value, namespaces);
      if (verdict === UNBOUNDED) return null;
    }
    start = end + 1;
  }
  return namespaces.length > 0 ? namespaces : null;
}

const UNBOUNDED = Symbol('unbounded');

/** Adds the namespaces a pair bounds the search to; UNBOUNDED when the pair names the namespace in a way we do not read. */
function readPair(key: string, value: string, into: string[]): typeof UNBOUNDED | undefined {
  if (key === 'namespace') return addNamespace(value, into);
  if (key.startsWith(FILTER_PREFIX) && key.endsWith(']')) {
    const operator = key.slice(FILTER_PREFIX.length, -1);
    if (!BOUNDING_OPERATORS.has(operator)) return UNBOUNDED;
    if (operator !== 'IN') return addNamespace(value, into);
    for (const part of value.split(',')) if (addNamespace(part, into) === UNBOUNDED) return UNBOUNDED;
    return undefined;
  }
  const lower = key.toLowerCase();
  if (lower.includes('namespace')) return UNBOUNDED;
  // The indexed filter form: filters[0][field]=namespace&filters[0][operation]=…&filters[0][value]=…
  if (lower.startsWith('filters[') && value.toLowerCase().includes('namespace')) return UNBOUNDED;
  return undefined;
}

function addNamespace(value: string, into: string[]): typeof UNBOUNDED | undefined {
  if (namespaceProblem(value) !== undefined) return UNBOUNDED;
  if (!into.includes(value)) into.push(value);
  return undefined;
}

/** Percent-decoding with `+` as a space; null when an escape is malformed. */
function decode(text: string): string | null {
  if (!text.includes('%') && !text.includes('+')) return text;
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return null;
  }
}
