/**
 * What a route rule requires: a resource and the actions any one of which
 * suffices, parsed once from `RESOURCE:ACTION` strings.
 */
import { isNamespaceScoped } from './namespaces.js';

export interface Requirement {
  /** Upper-case resource name (open string: Kestra 1.x and 2.x names both fit). */
  readonly resource: string;
  /** Any one of these suffices; `['*']` = any action of the resource. */
  readonly actions: readonly string[];
  /**
   * Cross-namespace bulk operations (by-query deletes, exports…): only a grant
   * not limited to a namespace satisfies them, since the request may touch
   * every namespace. Undefined = the usual namespace semantics.
   */
  readonly allNamespaces?: boolean;
  /**
   * 'query': the namespaces come from the query string's namespace filters
   * (searches, see query-namespaces.ts): every namespace the request can
   * return must be granted. Undefined = the namespace from the path.
   */
  readonly namespaceFrom?: 'query';
}

export type RequirementErrorCode = 'ERR_REQUIREMENT';

export class RequirementError extends Error {
  readonly code: RequirementErrorCode = 'ERR_REQUIREMENT';
  constructor(message: string) {
    super(message);
    this.name = 'RequirementError';
  }
}

const NAME = /^[A-Z][A-Z0-9_]*$/;

/**
 * Parses `RESOURCE:ACTION`, `RESOURCE:*` or `RESOURCE:A|B` (any of A, B).
 * Names are upper-cased, as Kestra writes them, so `flow:read` means FLOW:READ.
 */
export function parseRequirement(text: string, options: { allNamespaces?: boolean; namespaceFrom?: 'query' } = {}): Requirement {
  if (typeof text !== 'string') throw new RequirementError('must be a string like FLOW:READ');
  const colon = text.indexOf(':');
  if (colon === -1) throw new RequirementError(`${JSON.stringify(text)} must look like RESOURCE:ACTION (e.g. FLOW:READ)`);
  const resource = text.slice(0, colon).trim().toUpperCase();
  if (!NAME.test(resource)) throw new RequirementError(`resource ${JSON.stringify(resource)} must be letters, digits and '_' (e.g. FLOW)`);
  const actions = text.slice(colon + 1).split('|').map((a) => a.trim().toUpperCase());
  for (const action of actions) {
    if (action === '*' && actions.length === 1) continue;
    if (!NAME.test(action)) throw new RequirementError(`action ${JSON.stringify(action)} must be letters, digits and '_' (e.g. READ), or a lone '*'`);
  }
  if (options.allNamespaces && options.namespaceFrom !== undefined) throw new RequirementError('a rule takes its namespaces from the query or needs all namespaces, not both');
  const requirement: Requirement = {
    resource,
    actions: Object.freeze([...new Set(actions)]),
    ...(options.allNamespaces ? { allNamespaces: true } : {}),
    ...(options.namespaceFrom === 'query' ? { namespaceFrom: 'query' as const } : {}),
  };
  return Object.freeze(requirement);
}

/** `FLOW:READ`, `KVSTORE:CREATE|UPDATE`, `FLOW:*`. */
export function permissionText(req: Requirement): string {
  return `${req.resource}:${req.actions.join('|')}`;
}

/**
 * The label shown in logs and `explain`, saying how the namespace is decided:
 * `FLOW:READ` (namespace from the path), `EXECUTION:READ (any namespace)`
 * (path has none: held in any namespace suffices), `FLOW:DELETE (all namespaces)`,
 * or `FLOW:READ (namespaces from the query)` (searches).
 */
export function requirementLabel(req: Requirement, pathHasNamespace: boolean): string {
  const text = permissionText(req);
  if (!isNamespaceScoped(req.resource)) return text;
  if (req.allNamespaces) return `${text} (all namespaces)`;
  if (req.namespaceFrom === 'query') return `${text} (namespaces from the query)`;
  return pathHasNamespace ? text : `${text} (any namespace)`;
}
