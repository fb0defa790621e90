/**
 * Checks a route rule's path template once, at load time, so the matcher can
 * trust it: starts with `/`; literal segments; `{name}` captures one whole
 * segment; `**` (only as the last segment) matches the rest.
 */

const CAPTURE = /^\{([A-Za-z_][A-Za-z0-9_]*)\}$/;
// Characters a literal segment may hold: RFC 3986 pchar without `{}` and `*`,
// which are template syntax, and without `%` sequences being checked here.
const LITERAL = /^[A-Za-z0-9\-._~!$&'()+,;=:@%]+$/;

/** Undefined when valid, else what is wrong (never echoes the whole value). */
export function pathTemplateProblem(template: string): string | undefined {
  if (!template.startsWith('/')) return 'must start with "/"';
  if (/[?#]/.test(template)) return 'must not contain a query (?) or fragment (#)';
  if (template === '/') return undefined;
  const segments = template.slice(1).split('/');
  const captures = new Set<string>();
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!;
    const last = i === segments.length - 1;
    if (segment === '') {
      if (last) continue; // a trailing slash is a literal part of the path
      return 'has an empty segment ("//")';
    }
    if (segment === '**') {
      if (!last) return '"**" may only be the last segment';
      continue;
    }
    const capture = CAPTURE.exec(segment);
    if (capture) {
      const name = capture[1]!;
      if (captures.has(name)) return `captures {${name}} twice`;
      captures.add(name);
      continue;
    }
    if (segment.includes('{') || segment.includes('}')) {
      return `segment ${i + 1}: a {name} capture must be a whole segment with a name of letters, digits and _`;
    }
    if (segment.includes('*')) return `segment ${i + 1}: "*" is only allowed as a whole "**" last segment`;
    if (!LITERAL.test(segment)) return `segment ${i + 1} has characters not allowed in a URL path`;
  }
  return undefined;
}
