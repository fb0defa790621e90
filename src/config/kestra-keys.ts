/**
 * Which Kestra / Micronaut keys kestra-authz reads. An operator pastes the
 * security part of Kestra's application.yaml — often with much more around
 * it (queue, repository, datasources…). Everything not listed here is
 * dropped with ONE warning per top-most unused key, so a pasted file works
 * and the operator still learns what had no effect. Keys under `authz:` are
 * ours: an unknown one there is an error (see schema.ts), never a warning.
 */
import type { SourcePositions, ConfigPath } from './source-positions.js';

/** `true` = read the value as a whole; a nested object = read only those keys; `*` = any key (a name). */
interface UsedKeys {
  readonly [key: string]: UsedKeys | true;
}

const KESTRA_USED: UsedKeys = {
  encryption: { 'secret-key': true },
  security: {
    'default-role': { name: true, description: true, permissions: true, 'tenant-id': true },
    oidc: { 'groups-claim-path': true },
    'basic-auth': { enabled: true },
    login: { 'failed-attempts': { threshold: true, 'monitoring-window': true, 'lock-duration': true } },
  },
};

const MICRONAUT_USED: UsedKeys = {
  security: {
    token: {
      jwt: {
        signatures: { secret: { generator: { secret: true } } },
        generator: { 'refresh-token': { secret: true } },
      },
      cookie: {
        'cookie-max-age': true,
        'cookie-name': true,
        'cookie-secure': true,
        'cookie-same-site': true,
        'cookie-domain': true,
        'cookie-path': true,
      },
    },
    oauth2: {
      enabled: true,
      clients: {
        '*': {
          'client-id': true,
          'client-secret': true,
          scopes: true,
          token: { 'auth-method': true },
          openid: { issuer: true, 'end-session': { enabled: true }, authorization: { prompt: true } },
        },
      },
    },
    endpoints: { logout: { 'get-allowed': true } },
  },
};

/**
 * Keeps `authz` whole, the used parts of `kestra` and `micronaut`, drops the
 * rest; returns the warnings for what was dropped.
 */
export function selectUsedKeys(root: unknown, positions: SourcePositions): { selected: unknown; warnings: string[] } {
  const warnings: string[] = [];
  if (!isPlainMap(root)) return { selected: root, warnings };
  const selected: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(root)) {
    if (key === 'authz') selected[key] = value;
    else if (key === 'kestra') selected[key] = select(value, KESTRA_USED, [key], 'Kestra', positions, warnings);
    else if (key === 'micronaut') selected[key] = select(value, MICRONAUT_USED, [key], 'Micronaut', positions, warnings);
    else warnings.push(`${where(positions, [key])} is not a key kestra-authz uses; ignored`);
  }
  return { selected, warnings };
}

function select(
  value: unknown,
  used: UsedKeys,
  path: ConfigPath,
  family: string,
  positions: SourcePositions,
  warnings: string[],
): unknown {
  // A wrong type (e.g. `security: 5`) is kept for the schema to report.
  if (!isPlainMap(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value)) {
    const spec = used[key] ?? used['*'];
    const childPath = [...path, key];
    if (spec === undefined) {
      warnings.push(`${where(positions, childPath)} is a ${family} key kestra-authz does not use; ignored`);
      continue;
    }
    const picked = spec === true ? child : select(child, spec, childPath, family, positions, warnings);
    Object.defineProperty(out, key, { value: picked, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

function where(positions: SourcePositions, path: ConfigPath): string {
  const at = positions.locate(path);
  return `${at.key}${at.line ? ` (line ${at.line})` : ''}`;
}

export function isPlainMap(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
