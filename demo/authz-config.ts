/**
 * The kestra-authz config the demo runs with — an ordinary config file, the
 * same keys an operator writes (Kestra's own keys + `authz:`), so
 * `kestra-authz config check|explain --config <file>` work on it too.
 */
import { join } from 'node:path';
import { stringify } from 'yaml';
import { ADMIN_GROUP, VIEWER_GROUP } from './demo-users.js';

/** The SPIFFE id of the demo's one service binding (a CI runner's Kubernetes service account under Istio). */
export const DEMO_CI_RUNNER = 'spiffe://cluster.local/ns/ci/sa/ci-runner';

/** The provider's name: `/oauth/login/demo`, `/oauth/callback/demo`. */
export const PROVIDER_NAME = 'demo';

export interface DemoAuthzConfigOptions {
  /** Where browsers reach the app (the proxy, or the HTTP door when there is no proxy). */
  readonly externalUrl: string;
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** Session-signing secret (≥ 32 bytes), random per run. */
  readonly secretKey: string;
  readonly ports: { readonly grpc: number; readonly http: number; readonly management: number };
  /** The demo's temp dir: the (empty, unused) users file lives there. */
  readonly dir: string;
  readonly logLevel: string;
}

export function demoAuthzYaml(o: DemoAuthzConfigOptions): string {
  const config = {
    kestra: {
      encryption: { 'secret-key': o.secretKey },
      security: {
        // Only OIDC in the demo: no local users, so no Basic challenge and no chooser page.
        'basic-auth': { enabled: false },
        oidc: { 'groups-claim-path': 'groups' },
      },
    },
    micronaut: {
      security: {
        oauth2: {
          enabled: true,
          clients: {
            [PROVIDER_NAME]: {
              'client-id': o.clientId,
              'client-secret': o.clientSecret,
              scopes: ['openid', 'profile', 'email', 'groups'],
              openid: { issuer: o.issuer },
            },
          },
        },
      },
    },
    authz: {
      'external-url': o.externalUrl,
      listen: {
        grpc: `127.0.0.1:${o.ports.grpc}`,
        http: `127.0.0.1:${o.ports.http}`,
        management: `127.0.0.1:${o.ports.management}`,
      },
      // The embedded IdP is plain http on loopback; a real IdP is https and needs none of this.
      oidc: { 'allow-insecure-http-issuers': true },
      users: { file: join(o.dir, 'users.yaml') },
      roles: [
        { name: 'flow-viewer', description: 'read flows, nothing else', permissions: { FLOW: ['READ'] } },
        { name: 'flow-runner', description: 'read flows and start executions', permissions: { FLOW: ['READ'], EXECUTION: ['CREATE', 'READ'] } },
      ],
      bindings: [
        { group: ADMIN_GROUP, role: 'admin' },
        { group: VIEWER_GROUP, role: 'flow-viewer' },
        // A mesh workload (mTLS, no user token): the CI runner starts executions in company.team
        // (docs/mesh-identity.md; the demo has no mesh, `kestra-authz test` and `explain --principal` show it).
        { service: DEMO_CI_RUNNER, role: 'flow-runner', namespace: 'company.team' },
      ],
      'kestra-rules': true,
      default: 'authenticated',
      log: { level: o.logLevel },
    },
  };
  return stringify(config);
}
