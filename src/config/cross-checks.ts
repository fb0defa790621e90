/**
 * Checks that relate several values: exactly one of user/group, binding →
 * known role, unique role names and rule ids, what each store needs, OIDC
 * clients complete when OIDC is on. They read the normalized tree directly
 * (not the schema's output) so they run even when an unrelated value is
 * wrong: the operator gets every problem in one pass. Values of the wrong
 * type are skipped here; the schema reports those.
 */
import type { ConfigProblem } from '../core/errors.js';
import { isPlainMap } from './kestra-keys.js';
import { asBoolean } from './schema-fields.js';
import { DEFAULTS } from './config-defaults.js';
import type { ConfigPath, SourcePositions } from './source-positions.js';

export const BUILT_IN_ADMIN_ROLE = 'admin';

type Report = (path: ConfigPath, message: string) => void;

export function crossCheck(root: unknown, positions: SourcePositions): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const report: Report = (path, message) => problems.push({ ...positions.locate(path), message });
  const authz = child(root, 'authz');
  checkRolesAndBindings(authz, report);
  checkRules(authz, report);
  checkBearer(authz, report);
  checkStores(authz, report);
  checkHeaders(authz, report);
  checkIdentityToken(authz, report);
  checkOidc(root, report);
  checkCookie(root, report);
  return problems;
}

function checkRolesAndBindings(authz: unknown, report: Report): void {
  const known = new Set<string>([BUILT_IN_ADMIN_ROLE]);
  list(authz, 'roles').forEach((role, i) => {
    const name = child(role, 'name');
    if (typeof name !== 'string') return;
    const path = ['authz', 'roles', i, 'name'];
    if (name.toLowerCase() === BUILT_IN_ADMIN_ROLE) report(path, `"${name}" is the built-in admin role (every permission); choose another name`);
    else if (known.has(name)) report(path, `role "${name}" is defined twice`);
    known.add(name);
  });
  list(authz, 'bindings').forEach((binding, i) => {
    const path = ['authz', 'bindings', i];
    exactlyOne(binding, ['user', 'group', 'service'], path, report);
    const role = child(binding, 'role');
    if (typeof role === 'string' && !known.has(role)) {
      report([...path, 'role'], `role "${role}" is not defined in authz.roles (built in: ${BUILT_IN_ADMIN_ROLE})`);
    }
  });
}

function checkRules(authz: unknown, report: Report): void {
  const ids = new Map<string, number>();
  list(authz, 'rules').forEach((rule, i) => {
    const path = ['authz', 'rules', i];
    exactlyOne(rule, ['allow', 'require'], path, report);
    const explicit = child(rule, 'id');
    const id = typeof explicit === 'string' ? explicit : `rule[${i}]`;
    const first = ids.get(id);
    if (first !== undefined) report(typeof explicit === 'string' ? [...path, 'id'] : path, `rule id "${id}" is already used by rule ${first}`);
    else ids.set(id, i);
  });
}

function checkBearer(authz: unknown, report: Report): void {
  const seen = new Set<string>();
  list(child(authz, 'bearer'), 'issuers').forEach((issuer, i) => {
    const path = ['authz', 'bearer', 'issuers', i];
    const name = child(issuer, 'issuer');
    if (typeof name === 'string') {
      if (seen.has(name)) report([...path, 'issuer'], 'this issuer is listed twice; merge the entries');
      seen.add(name);
      if (child(issuer, 'jwks-uri') === undefined && !/^https?:\/\//i.test(name)) {
        report([...path, 'issuer'], 'an issuer that is not an http(s) URL needs jwks-uri (its keys cannot be discovered)');
      }
    }
    list(issuer, 'from').forEach((source, j) => {
      const sourcePath = [...path, 'from', j];
      exactlyOne(source, ['header', 'cookie'], sourcePath, report);
      if (child(source, 'cookie') !== undefined && child(source, 'prefix') !== undefined) {
        report([...sourcePath, 'prefix'], 'prefix applies to a header; a cookie holds the bare token');
      }
    });
  });
}

function checkStores(authz: unknown, report: Report): void {
  const users = child(authz, 'users');
  if (isPlainMap(users)) {
    const store = lower(child(users, 'store')) ?? (users.url !== undefined ? 'postgres' : 'file');
    if (store === 'postgres' && users.url === undefined) report(['authz', 'users'], 'store postgres needs url: postgres://…');
    if (store === 'postgres' && users.file !== undefined) report(['authz', 'users', 'file'], 'file is for store: file; remove it or the postgres url');
    if (store === 'file' && users.url !== undefined) report(['authz', 'users', 'url'], 'url is for store: postgres; set store: postgres or remove url');
  }
  const sessions = child(authz, 'sessions');
  if (isPlainMap(sessions)) {
    const store = lower(child(sessions, 'store')) ?? (sessions.url !== undefined ? 'redis' : 'cookie');
    if (store === 'redis' && sessions.url === undefined) report(['authz', 'sessions'], 'store redis needs url: redis://…');
    for (const key of ['url', 'prefix']) {
      if (store === 'cookie' && sessions[key] !== undefined) report(['authz', 'sessions', key], `${key} is for store: redis; cookie sessions keep no server state`);
    }
    const revocations = child(sessions, 'revocations');
    if (store === 'redis' && revocations !== undefined) {
      report(['authz', 'sessions', 'revocations'], 'revocations is for store: cookie; the Redis store ends sessions on every replica by itself');
    }
    if (isPlainMap(revocations)) {
      const kind = lower(child(revocations, 'store')) ?? (revocations.url !== undefined ? 'redis' : 'memory');
      if (kind === 'redis' && revocations.url === undefined) report(['authz', 'sessions', 'revocations'], 'revocations store redis needs url: redis://…');
      for (const key of ['url', 'prefix']) {
        if (kind === 'memory' && revocations[key] !== undefined) report(['authz', 'sessions', 'revocations', key], `${key} is for revocations store: redis`);
      }
    }
  }
}

function checkHeaders(authz: unknown, report: Report): void {
  const headers = child(authz, 'headers');
  if (!isPlainMap(headers)) return;
  const seen = new Map<string, string>();
  for (const [key, value] of Object.entries(headers)) {
    if (typeof value !== 'string') continue;
    const name = value.trim().toLowerCase();
    const other = seen.get(name);
    if (other !== undefined) report(['authz', 'headers', key], `same header name as headers.${other}`);
    seen.set(name, key);
  }
}

function checkIdentityToken(authz: unknown, report: Report): void {
  const token = child(authz, 'identity-token');
  const header = lower(child(token, 'header'));
  const named = lower(at(authz, ['headers', 'identity']));
  if (header !== undefined && named !== undefined && header !== named) {
    report(['authz', 'identity-token', 'header'], `names another header than authz.headers.identity (${named}); set one of them`);
  }
  if (header !== undefined) {
    for (const key of ['user', 'email', 'groups', 'tenant'] as const) {
      if ((lower(at(authz, ['headers', key])) ?? DEFAULTS.headers[key]) === header) report(['authz', 'identity-token', 'header'], `same header name as headers.${key}`);
    }
  }
  if (asBoolean(child(token, 'enabled')) === true && typeof child(authz, 'external-url') !== 'string') {
    report(['authz', 'identity-token', 'enabled'], 'the identity token\'s issuer (iss) is authz.external-url: set it (e.g. https://kestra.example.com)');
  }
}

function checkOidc(root: unknown, report: Report): void {
  const oauth2Path = ['micronaut', 'security', 'oauth2'];
  const oauth2 = at(root, oauth2Path);
  // A trusted name that is no client would silently trust nothing, or a client added later without review.
  const clientNames = isPlainMap(child(oauth2, 'clients')) ? Object.keys(child(oauth2, 'clients') as object) : [];
  for (const key of ['trust-email-clients', 'frontchannel-logout-sid-optional-clients']) {
    const named = at(root, ['authz', 'oidc', key]);
    if (!Array.isArray(named)) continue;
    named.forEach((name, i) => {
      if (typeof name === 'string' && !clientNames.includes(name)) {
        report(['authz', 'oidc', key, i], `no client "${name}" under micronaut.security.oauth2.clients`);
      }
    });
  }
  const extras = at(root, ['authz', 'oidc', 'clients']);
  if (isPlainMap(extras)) {
    for (const name of Object.keys(extras)) {
      if (!clientNames.includes(name)) report(['authz', 'oidc', 'clients', name], `no client "${name}" under micronaut.security.oauth2.clients`);
    }
  }
  if (asBoolean(child(oauth2, 'enabled')) !== true) return;
  const clients = child(oauth2, 'clients');
  if (!isPlainMap(clients) || Object.keys(clients).length === 0) {
    report([...oauth2Path, 'enabled'], 'OIDC is enabled but no clients are configured under micronaut.security.oauth2.clients');
    return;
  }
  for (const [name, client] of Object.entries(clients)) {
    const path = [...oauth2Path, 'clients', name];
    if (!isPlainMap(client)) continue;
    if (client['client-id'] === undefined) report(path, 'client-id is required when OIDC is enabled');
    if (child(client.openid, 'issuer') === undefined) report(path, 'openid.issuer is required when OIDC is enabled');
    const scopes = client.scopes;
    if (Array.isArray(scopes) && !scopes.includes('openid')) report([...path, 'scopes'], 'must include openid');
    checkClientAuth(client, child(extras, name), path, report);
  }
}

/** The token-endpoint auth method needs its credential: a secret, or a private key. */
function checkClientAuth(client: Record<string, unknown>, extras: unknown, path: ConfigPath, report: Report): void {
  const method = lower(child(client.token, 'auth-method'))?.replace(/-/g, '_');
  const hasSecret = client['client-secret'] !== undefined;
  const hasKey = child(extras, 'private-key-file') !== undefined;
  const methodPath = [...path, 'token', 'auth-method'];
  if (method?.startsWith('client_secret_') && !hasSecret) report(methodPath, `${method} needs client-secret`);
  if (method === 'private_key_jwt' && !hasKey) report(methodPath, `private_key_jwt needs authz.oidc.clients.${String(path[path.length - 1])}.private-key-file`);
  if (method === 'none' && hasSecret) report(methodPath, 'none (a public client) with a client-secret: remove one of them');
}

function checkCookie(root: unknown, report: Report): void {
  const path = ['micronaut', 'security', 'token', 'cookie'];
  const cookie = at(root, path);
  if (lower(child(cookie, 'cookie-same-site')) === 'none' && asBoolean(child(cookie, 'cookie-secure')) === false) {
    report([...path, 'cookie-same-site'], 'SameSite=None requires cookie-secure: true (browsers drop the cookie otherwise)');
  }
}

function exactlyOne(value: unknown, keys: readonly string[], path: ConfigPath, report: Report): void {
  if (!isPlainMap(value)) return;
  const present = keys.filter((k) => value[k] !== undefined);
  const choices = keys.length === 2 ? `${keys[0]} or ${keys[1]}` : `${keys.slice(0, -1).join(', ')} or ${keys[keys.length - 1]}`;
  if (present.length > 1) report(path, keys.length === 2 ? `give either ${choices}, not both` : `give only one of ${choices} (got ${present.join(' and ')})`);
  if (present.length === 0) report(path, `needs ${choices}`);
}

function child(value: unknown, key: string): unknown {
  return isPlainMap(value) && Object.hasOwn(value, key) ? value[key] : undefined;
}

function at(value: unknown, path: readonly string[]): unknown {
  return path.reduce<unknown>((node, key) => child(node, key), value);
}

function list(value: unknown, key: string): unknown[] {
  const found = child(value, key);
  return Array.isArray(found) ? found : [];
}

function lower(value: unknown): string | undefined {
  return typeof value === 'string' ? value.trim().toLowerCase() : undefined;
}
