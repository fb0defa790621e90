/**
 * The config of a service logging browsers in with OIDC providers, as the
 * login tests write it: Kestra's own keys (encryption secret, security,
 * `micronaut.security.oauth2.clients`) and an `authz` section on free ports.
 * Built as data and serialized, so each test states only what it changes.
 */
import { join } from 'node:path';
import { stringify } from 'yaml';

/** The OAuth client the test IdPs register and the service presents. */
export const TEST_CLIENT = { client_id: 'kestra', client_secret: 'kestra-secret-for-tests-only' } as const;

/** The scopes that bring the user's profile, email and groups into the ID token. */
export const PROFILE_SCOPES: readonly string[] = ['openid', 'profile', 'email', 'groups'];

export interface OidcServiceConfigOptions {
  /** `kestra.encryption.secret-key` (signs the session cookie). */
  readonly secret: string;
  readonly externalUrl: string;
  /** Folder of the users file. */
  readonly dir: string;
  /** Provider name (as in `/oauth/login/<name>`) → its IdP. */
  readonly providers: Readonly<Record<string, { readonly issuer: string }>>;
  readonly client?: { readonly client_id: string; readonly client_secret: string };
  /** Scopes to ask for; none listed when absent. */
  readonly scopes?: readonly string[];
  /** `kestra.security`, when set. */
  readonly security?: Record<string, unknown>;
  /** Keys of `micronaut.security` beside `oauth2`. */
  readonly micronautSecurity?: Record<string, unknown>;
  /** The HTTP door's port (a free one when absent). */
  readonly httpPort?: number;
  /** Further `authz` keys (`default`, `rules`, …), after external-url, listen and users. */
  readonly authz?: Record<string, unknown>;
}

export function oidcServiceYaml(options: OidcServiceConfigOptions): string {
  const client = options.client ?? TEST_CLIENT;
  const clients = Object.fromEntries(Object.entries(options.providers).map(([name, idp]) => [name, {
    'client-id': client.client_id,
    'client-secret': client.client_secret,
    ...(options.scopes ? { scopes: [...options.scopes] } : {}),
    openid: { issuer: idp.issuer },
  }]));
  const config = {
    kestra: {
      encryption: { 'secret-key': options.secret },
      ...(options.security ? { security: options.security } : {}),
    },
    micronaut: { security: { oauth2: { enabled: true, clients }, ...options.micronautSecurity } },
    // authz last: callers may append indented YAML text that belongs to it.
    authz: {
      'external-url': options.externalUrl,
      listen: { grpc: '127.0.0.1:0', http: `127.0.0.1:${options.httpPort ?? 0}`, management: '127.0.0.1:0' },
      users: { file: join(options.dir, 'users.yaml') },
      log: { level: 'silent' },
      ...options.authz,
    },
  };
  return stringify(config);
}
