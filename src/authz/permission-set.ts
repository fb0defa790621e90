/**
 * A role's permissions `{RESOURCE: [ACTIONS]}` compiled once into
 * Map<resource, Set<action>> for cheap checks on the request path.
 * Resource and action names are open strings (Kestra 1.x CRUD and 2.x
 * actions such as VIEW, EXECUTE both fit), upper-cased as Kestra writes them.
 * `*` as an action means every action of that resource, including ones a
 * future Kestra adds.
 */
import type { PermissionMap } from '../config/types.js';

export interface PermissionSet {
  /** Every action of every resource, known or future: the built-in admin role. */
  readonly everything: boolean;
  /** 'all' = every action of the resource (`*` in the role). */
  readonly resources: ReadonlyMap<string, ReadonlySet<string> | 'all'>;
}

export type PermissionSetErrorCode = 'ERR_PERMISSION_SET';

export class PermissionSetError extends Error {
  readonly code: PermissionSetErrorCode = 'ERR_PERMISSION_SET';
  constructor(message: string) {
    super(message);
    this.name = 'PermissionSetError';
  }
}

const NAME = /^[A-Z][A-Z0-9_]*$/;

export const ADMIN_PERMISSIONS: PermissionSet = Object.freeze({ everything: true, resources: new Map() });

export function compilePermissionSet(permissions: PermissionMap): PermissionSet {
  if (permissions === null || typeof permissions !== 'object' || Array.isArray(permissions)) {
    throw new PermissionSetError('permissions must be a map like { FLOW: [READ], EXECUTION: [READ, CREATE] }');
  }
  const resources = new Map<string, Set<string> | 'all'>();
  for (const [rawResource, rawActions] of Object.entries(permissions)) {
    const resource = rawResource.trim().toUpperCase();
    if (!NAME.test(resource)) throw new PermissionSetError(`resource ${JSON.stringify(rawResource)} must be letters, digits and '_' (e.g. FLOW)`);
    if (!Array.isArray(rawActions)) throw new PermissionSetError(`${resource}: actions must be a list (e.g. [READ, UPDATE] or ['*'])`);
    const existing = resources.get(resource);
    if (existing === 'all') continue;
    const actions = existing ?? new Set<string>();
    let all = false;
    for (const rawAction of rawActions) {
      const action = typeof rawAction === 'string' ? rawAction.trim().toUpperCase() : '';
      if (action === '*') all = true;
      else if (NAME.test(action)) actions.add(action);
      else throw new PermissionSetError(`${resource}: action ${JSON.stringify(rawAction)} must be letters, digits and '_' (e.g. READ), or '*'`);
    }
    resources.set(resource, all ? 'all' : actions);
  }
  return Object.freeze({ everything: false, resources });
}

/**
 * True when the set holds `resource` with any one of `actions`;
 * `['*']` asks for any action at all of the resource.
 */
export function permits(set: PermissionSet, resource: string, actions: readonly string[]): boolean {
  if (set.everything) return true;
  const held = set.resources.get(resource);
  if (held === undefined) return false;
  if (held === 'all') return true;
  if (actions.length === 1 && actions[0] === '*') return held.size > 0;
  for (let i = 0; i < actions.length; i++) if (held.has(actions[i]!)) return true;
  return false;
}

/** `{RESOURCE: [ACTIONS]}` for explain output; admin shows as `{'*': ['*']}`. */
export function describePermissions(set: PermissionSet): Record<string, string[]> {
  if (set.everything) return { '*': ['*'] };
  const out: Record<string, string[]> = {};
  for (const [resource, actions] of set.resources) out[resource] = actions === 'all' ? ['*'] : [...actions];
  return out;
}
