/**
 * Kestra namespaces: which resources live in a namespace, and which
 * namespaces a binding limited to one namespace covers.
 */

/**
 * Resources whose permissions can be limited to a namespace (Kestra's
 * permissions reference). Every other resource is tenant-wide: a binding
 * limited to a namespace never grants it, whatever the role says.
 */
export const NAMESPACE_SCOPED_RESOURCES: ReadonlySet<string> = new Set([
  'FLOW',
  'EXECUTION',
  'TEMPLATE',
  'NAMESPACE',
  'KVSTORE',
  'SECRET',
  'TEST',
  'APPEXECUTION',
  'CREDENTIAL',
]);

export function isNamespaceScoped(resource: string): boolean {
  return NAMESPACE_SCOPED_RESOURCES.has(resource);
}

/**
 * True when a binding on `bound` covers namespace `ns`: the namespace itself
 * or a child (`company.team` covers `company.team.sub`, not `company.teamx`).
 */
export function namespaceCovers(bound: string, ns: string): boolean {
  return ns === bound || (ns.length > bound.length && ns.charCodeAt(bound.length) === 46 /* '.' */ && ns.startsWith(bound));
}

const NAMESPACE_SHAPE = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

/** Why a configured namespace is unusable, or undefined when it is fine (dot-separated, no empty parts). */
export function namespaceProblem(ns: string): string | undefined {
  if (ns.length === 0) return 'must not be empty';
  if (ns.length > 256) return 'longer than 256 characters';
  if (!NAMESPACE_SHAPE.test(ns)) return "must be dot-separated parts of letters, digits, '_' or '-' (e.g. company.team)";
  return undefined;
}
