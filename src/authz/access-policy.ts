/**
 * Roles, bindings and the default role compiled once per config, and the
 * per-request questions: which grants does this identity hold in this
 * tenant, and do they satisfy what the route requires?
 *
 * Semantics (Kestra's model):
 * - a binding names a user (matching the identity's name or its subject,
 *   exactly) or a group (any of the identity's groups), a role, and
 *   optionally a namespace (covering its children) and a tenant;
 * - a binding limited to a namespace grants only namespace-scoped resources
 *   (FLOW, EXECUTION, …), never tenant-wide ones (ROLE, AUDITLOG, …);
 * - `admin` is built in: every action of every resource, known or future;
 *   local users created with `--admin` hold it;
 * - a local user limited to a tenant gets nothing in another tenant
 *   ('tenant_denied'); when the path names no tenant, the user's own tenant
 *   is the one bindings are matched against;
 * - the default role: Kestra gives it to "users with no other grant". We read
 *   that per request: when none of the identity's bindings applies in the
 *   request's tenant (and it is not a local admin), the default role applies,
 *   unlimited by namespace, if its own tenant-id (if any) is that tenant.
 *   So a user bound only in tenant A still gets the default role in tenant B.
 * - when the path names no tenant, a binding or default role limited to a
 *   tenant applies only if the identity itself belongs to that tenant.
 * - a `service` binding names a mesh workload by SPIFFE id or pattern
 *   (spiffe-id.ts) and applies only to an `mtls` identity (a peer calling
 *   without a user credential); `user`/`group` bindings never apply to one,
 *   and neither does the default role (Kestra's "users with no other grant"):
 *   a service holds exactly what its bindings grant.
 */
import type { Config } from '../config/types.js';
import { ConfigError, type ConfigProblem } from '../core/errors.js';
import type { Identity } from '../core/identity.js';
import { isNamespaceScoped, namespaceCovers, namespaceProblem } from './namespaces.js';
import { ADMIN_PERMISSIONS, compilePermissionSet, describePermissions, permits, type PermissionSet } from './permission-set.js';
import { permissionText, type Requirement } from './requirement.js';
import { compilePrincipalPattern, parsedMatches, parseSpiffeId, principalMatches, type PrincipalPattern } from './spiffe-id.js';

/** One role held through one binding (or the default role, or the local admin flag). */
export interface Grant {
  readonly role: string;
  /** 'user alice', 'group kestra-devs', 'default role', 'local admin user'. */
  readonly via: string;
  /** Limits the grant to this namespace and its children; undefined = the whole tenant. */
  readonly namespace?: string;
  readonly permissions: PermissionSet;
  /** "role developer via group kestra-devs on company.team", for logs and explain. */
  readonly description: string;
  /** Position in config, to keep grants in a stable order. */
  readonly order: number;
}

/** The effective grants of one identity in one tenant, most specific config order first. */
export interface Grants {
  readonly grants: readonly Grant[];
}

export interface PermissionCheck {
  readonly permitted: boolean;
  /** What was missing, e.g. 'FLOW:READ in namespace company.other'. */
  readonly missing?: string;
  /** Which grant allowed it, e.g. 'role developer via group kestra-devs on company.team'. */
  readonly grantedBy?: string;
  /** The namespace that was missing (for the 403 body), when one was. */
  readonly namespace?: string;
}

interface CompiledBinding {
  readonly grant: Grant;
  readonly tenantId?: string;
}

interface ServiceBinding extends CompiledBinding {
  readonly pattern: PrincipalPattern;
}

interface DefaultGrant {
  readonly grant: Grant;
  readonly tenantId?: string;
  /** Precomputed answer for identities holding nothing else. */
  readonly only: Grants;
}

export interface AccessPolicy {
  readonly byUser: ReadonlyMap<string, readonly CompiledBinding[]>;
  readonly byGroup: ReadonlyMap<string, readonly CompiledBinding[]>;
  /** `service` bindings in config order (patterns: matched one by one, only for mtls identities). */
  readonly services: readonly ServiceBinding[];
  readonly defaultRole?: DefaultGrant;
}

const ADMIN_ROLE = 'admin';
const NO_GRANTS: Grants = Object.freeze({ grants: Object.freeze([]) });
const LOCAL_ADMIN: Grant = Object.freeze({
  role: ADMIN_ROLE, via: 'local admin user', permissions: ADMIN_PERMISSIONS, description: 'role admin via local admin user', order: -1,
});

function makeGrant(role: string, via: string, permissions: PermissionSet, order: number, namespace?: string): Grant {
  const description = `role ${role} via ${via}${namespace === undefined ? '' : ` on ${namespace}`}`;
  return Object.freeze(namespace === undefined
    ? { role, via, permissions, description, order }
    : { role, via, namespace, permissions, description, order });
}

function pushIndexed(index: Map<string, CompiledBinding[]>, key: string, binding: CompiledBinding): void {
  const list = index.get(key);
  if (list) list.push(binding);
  else index.set(key, [binding]);
}

/** Compiles roles, bindings and the default role; throws a ConfigError listing every problem. */
export function compileAccessPolicy(config: Pick<Config, 'roles' | 'bindings' | 'defaultRole'> & { readonly source?: string }): AccessPolicy {
  const problems: ConfigProblem[] = [];
  const problem = (key: string, message: string, line?: number): void => {
    problems.push(line === undefined ? { key, message } : { key, line, message });
  };

  const roles = new Map<string, PermissionSet>([[ADMIN_ROLE, ADMIN_PERMISSIONS]]);
  config.roles.forEach((role, i) => {
    const key = `authz.roles[${i}]`;
    if (typeof role.name !== 'string' || role.name.trim() === '') return problem(`${key}.name`, 'must be a non-empty string');
    if (role.name.toLowerCase() === ADMIN_ROLE) return problem(`${key}.name`, "'admin' is built in (every permission) and cannot be redefined");
    if (roles.has(role.name)) return problem(`${key}.name`, `role ${JSON.stringify(role.name)} is defined twice`);
    try {
      roles.set(role.name, compilePermissionSet(role.permissions));
    } catch (err) {
      problem(`${key}.permissions`, (err as Error).message);
    }
  });

  const byUser = new Map<string, CompiledBinding[]>();
  const byGroup = new Map<string, CompiledBinding[]>();
  const services: ServiceBinding[] = [];
  config.bindings.forEach((binding, i) => {
    const key = `authz.bindings[${i}]`;
    const before = problems.length;
    const hasUser = typeof binding.user === 'string' && binding.user !== '';
    const hasGroup = typeof binding.group === 'string' && binding.group !== '';
    const hasService = typeof binding.service === 'string' && binding.service !== '';
    if (Number(hasUser) + Number(hasGroup) + Number(hasService) !== 1) problem(key, 'a binding needs exactly one of `user`, `group` or `service`', binding.line);
    let pattern: PrincipalPattern | undefined;
    if (hasService) {
      try {
        pattern = compilePrincipalPattern(binding.service);
      } catch (err) {
        problem(`${key}.service`, (err as Error).message, binding.line);
      }
    }
    // Bindings may name the built-in role as Kestra writes it ('Admin').
    const roleName = typeof binding.role === 'string' && binding.role.toLowerCase() === ADMIN_ROLE ? ADMIN_ROLE : binding.role;
    const permissions = roles.get(roleName);
    if (permissions === undefined) problem(`${key}.role`, `unknown role ${JSON.stringify(binding.role)} (defined: ${[...roles.keys()].join(', ')})`, binding.line);
    if (binding.namespace !== undefined) {
      const bad = namespaceProblem(binding.namespace);
      if (bad) problem(`${key}.namespace`, bad, binding.line);
    }
    if (binding.tenantId !== undefined && (typeof binding.tenantId !== 'string' || binding.tenantId === '')) {
      problem(`${key}.tenant-id`, 'must be a non-empty string', binding.line);
    }
    if (problems.length > before || permissions === undefined) return;
    const via = hasUser ? `user ${binding.user}` : hasGroup ? `group ${binding.group}` : `service ${binding.service}`;
    const compiled: CompiledBinding = Object.freeze({
      grant: makeGrant(roleName, via, permissions, i, binding.namespace),
      ...(binding.tenantId === undefined ? {} : { tenantId: binding.tenantId }),
    });
    if (pattern !== undefined) services.push(Object.freeze({ ...compiled, pattern }));
    else pushIndexed(hasUser ? byUser : byGroup, hasUser ? binding.user! : binding.group!, compiled);
  });

  let defaultRole: DefaultGrant | undefined;
  const dr = config.defaultRole;
  if (dr !== undefined) {
    try {
      const grant = makeGrant(dr.name, 'default role', compilePermissionSet(dr.permissions), config.bindings.length);
      defaultRole = Object.freeze({
        grant,
        ...(dr.tenantId === undefined ? {} : { tenantId: dr.tenantId }),
        only: Object.freeze({ grants: Object.freeze([grant]) }),
      });
    } catch (err) {
      problem('kestra.security.default-role.permissions', (err as Error).message);
    }
  }

  if (problems.length > 0) throw new ConfigError(config.source ?? 'configuration', problems);
  return Object.freeze({ byUser, byGroup, services: Object.freeze(services), ...(defaultRole ? { defaultRole } : {}) });
}

function collect(into: Grant[], bindings: readonly CompiledBinding[] | undefined, tenant: string | undefined): void {
  if (bindings === undefined) return;
  for (const b of bindings) {
    if (b.tenantId !== undefined && b.tenantId !== tenant) continue;
    if (!into.includes(b.grant)) into.push(b.grant); // a group listed twice must not double a grant
  }
}

/**
 * The grants of `identity` for a request in `tenant` (from the path;
 * undefined when the path names none). Cheap: index lookups, no role work.
 */
export function grantsFor(policy: AccessPolicy, identity: Identity, tenant: string | undefined): Grants | 'tenant_denied' {
  if (identity.tenant !== undefined && tenant !== undefined && identity.tenant !== tenant) return 'tenant_denied';
  const effectiveTenant = tenant ?? identity.tenant;
  if (identity.via === 'mtls') return serviceGrants(policy, identity.name, effectiveTenant);
  const grants: Grant[] = [];
  if (identity.admin === true) grants.push(LOCAL_ADMIN);
  collect(grants, policy.byUser.get(identity.name), effectiveTenant);
  if (identity.subject !== identity.name) collect(grants, policy.byUser.get(identity.subject), effectiveTenant);
  for (const group of identity.groups) collect(grants, policy.byGroup.get(group), effectiveTenant);

  if (grants.length === 0) {
    const dr = policy.defaultRole;
    if (dr !== undefined && (dr.tenantId === undefined || dr.tenantId === effectiveTenant)) return dr.only;
    return NO_GRANTS;
  }
  if (grants.length > 1) grants.sort((a, b) => a.order - b.order);
  return { grants };
}

/** What `service` bindings grant the workload `principal` (a SPIFFE id) in `tenant`. */
function serviceGrants(policy: AccessPolicy, principal: string, tenant: string | undefined): Grants {
  const id = policy.services.length === 0 ? undefined : parseSpiffeId(principal);
  if (id === undefined) return NO_GRANTS;
  const grants: Grant[] = [];
  for (const b of policy.services) {
    if (b.tenantId !== undefined && b.tenantId !== tenant) continue;
    if (parsedMatches(b.pattern, id)) grants.push(b.grant);
  }
  return grants.length === 0 ? NO_GRANTS : { grants };
}

/** Whether some `service` binding names `principal` (in any tenant): the mtls authenticator's test. */
export function bindsService(policy: AccessPolicy, principal: string): boolean {
  for (const b of policy.services) if (principalMatches(b.pattern, principal)) return true;
  return false;
}

/**
 * Checks a route's requirement against the grants. `namespace` comes from the
 * path; when the path has none, holding the permission in any namespace
 * suffices (routes keyed by execution id), except for requirements marked
 * `allNamespaces`, which need a grant not limited to a namespace.
 */
export function checkPermission(grants: Grants, req: Requirement, namespace: string | undefined): PermissionCheck {
  const scoped = isNamespaceScoped(req.resource);
  for (const grant of grants.grants) {
    if (!permits(grant.permissions, req.resource, req.actions)) continue;
    if (grant.namespace === undefined) return { permitted: true, grantedBy: grant.description };
    // A namespace-limited grant: never tenant-wide resources, never "every namespace".
    if (!scoped || req.allNamespaces === true) continue;
    if (namespace === undefined || namespaceCovers(grant.namespace, namespace)) return { permitted: true, grantedBy: grant.description };
  }
  return { permitted: false, missing: missingText(req, namespace, scoped) };
}

/**
 * Checks a search (a requirement with `namespaceFrom: 'query'`) against the
 * grants: every namespace it can return must be granted. `namespaces` comes
 * from queryNamespaces: null = unbounded, which only a grant not limited to a
 * namespace satisfies; otherwise each listed namespace (with its children)
 * must be covered, and the first one that is not is named.
 */
export function checkQueryNamespaces(grants: Grants, req: Requirement, namespaces: readonly string[] | null): PermissionCheck {
  if (namespaces === null) {
    for (const grant of grants.grants) {
      if (grant.namespace === undefined && permits(grant.permissions, req.resource, req.actions)) return { permitted: true, grantedBy: grant.description };
    }
    const text = permissionText(req);
    return { permitted: false, missing: isNamespaceScoped(req.resource) ? `${text} in every namespace (a search without a namespace filter)` : text };
  }
  let last: PermissionCheck | undefined;
  for (const namespace of namespaces) {
    last = checkPermission(grants, req, namespace);
    if (!last.permitted) return { ...last, namespace };
  }
  return last!;
}

function missingText(req: Requirement, namespace: string | undefined, scoped: boolean): string {
  const text = permissionText(req);
  if (!scoped) return text;
  if (req.allNamespaces === true) return `${text} in every namespace`;
  return namespace === undefined ? `${text} in any namespace` : `${text} in namespace ${namespace}`;
}

/** The grants in readable form, for `explain`. */
export function describeGrants(grants: Grants): { role: string; via: string; namespace?: string; permissions: Record<string, string[]> }[] {
  return grants.grants.map((g) => ({
    role: g.role,
    via: g.via,
    ...(g.namespace === undefined ? {} : { namespace: g.namespace }),
    permissions: describePermissions(g.permissions),
  }));
}
