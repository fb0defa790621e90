/**
 * The config of a service that takes Bearer tokens from one test issuer and
 * Basic users from a file, as the gRPC- and HTTP-door tests write it: a
 * viewer default role, a `developer` role bound to `kestra-devs` on
 * `company.team`, and a public `/healthz`. Each test adds only its own keys.
 */
import { join } from 'node:path';
import { stringify } from 'yaml';

export interface BearerServiceConfigOptions {
  /** Folder of the users file. */
  readonly dir: string;
  readonly issuer: string;
  /** Further `kestra.security` keys. */
  readonly security?: Record<string, unknown>;
  /** Further `authz.bearer` keys. */
  readonly bearer?: Record<string, unknown>;
  /** Further keys of the issuer's entry (e.g. `from`). */
  readonly issuerEntry?: Record<string, unknown>;
  /** Bindings after the `kestra-devs` one. */
  readonly bindings?: readonly Record<string, unknown>[];
  /** Rules after the public `/healthz`. */
  readonly rules?: readonly Record<string, unknown>[];
  /** `authz.http` keys (e.g. `forward-auth: { trust: nginx }`). */
  readonly http?: Record<string, unknown>;
}

export function bearerServiceYaml(options: BearerServiceConfigOptions): string {
  return stringify({
    kestra: {
      encryption: { 'secret-key': '0123456789abcdef0123456789abcdef-test' },
      security: {
        'default-role': { name: 'viewer', permissions: { FLOW: ['READ'], EXECUTION: ['READ'] } },
        oidc: { 'groups-claim-path': 'resource_access.kestra.roles' },
        ...options.security,
      },
    },
    authz: {
      listen: { grpc: '127.0.0.1:0', http: '127.0.0.1:0', management: '127.0.0.1:0' },
      ...(options.http ? { http: options.http } : {}),
      bearer: {
        ...options.bearer,
        issuers: [{ issuer: options.issuer, audiences: ['kestra'], ...options.issuerEntry }],
      },
      users: { file: join(options.dir, 'users.yaml') },
      roles: [{ name: 'developer', permissions: { FLOW: ['CREATE', 'READ', 'UPDATE', 'DELETE'], EXECUTION: ['CREATE', 'READ', 'UPDATE'] } }],
      bindings: [{ group: 'kestra-devs', role: 'developer', namespace: 'company.team' }, ...(options.bindings ?? [])],
      rules: [{ match: { path: '/healthz' }, allow: 'public' }, ...(options.rules ?? [])],
      log: { level: 'silent' },
    },
  });
}
