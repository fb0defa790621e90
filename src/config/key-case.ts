/**
 * Micronaut accepts `secret-key` and `secretKey` for the same property; so
 * do we. Every structural key is brought to kebab-case before validation.
 * Keys that are data (resource names in a permission map, OIDC client names)
 * keep their spelling: see `isDataKeyedMap`.
 */

/** `secretKey` → `secret-key`, `clientID` → `client-id`, `cookie-max-age` unchanged. */
export function kebabKey(key: string): string {
  return key
    .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1-$2')
    .toLowerCase();
}

/**
 * True for maps whose keys are names the operator chose rather than
 * property names: `permissions: {FLOW: [READ]}` (anywhere) and
 * `micronaut.security.oauth2.clients.<name>` (and `authz.oidc.clients.<name>`), the tracing resource attributes
 * and exporter headers. `path` is already normalized.
 */
export function isDataKeyedMap(path: readonly (string | number)[]): boolean {
  const last = path[path.length - 1];
  if (last === 'permissions') return true;
  // authz.tracing.resource-attributes / .otlp.headers: attribute and header names as the operator wrote them.
  if (path[0] === 'authz' && path[1] === 'tracing') {
    if (path.length === 3 && last === 'resource-attributes') return true;
    if (path.length === 4 && path[2] === 'otlp' && last === 'headers') return true;
  }
  // authz.oidc.clients.<name>: the same names as micronaut.security.oauth2.clients.
  if (path.length === 3 && path[0] === 'authz' && path[1] === 'oidc' && last === 'clients') return true;
  return (
    path.length === 4 &&
    path[0] === 'micronaut' &&
    path[1] === 'security' &&
    path[2] === 'oauth2' &&
    path[3] === 'clients'
  );
}
