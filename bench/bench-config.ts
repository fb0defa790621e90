/**
 * The config the real server runs under in the bench: one bearer issuer (the
 * bench issuer, JWKS given directly), a role and a binding that give the
 * tokens' group FLOW:READ on company.team, Kestra's built-in rules, no
 * default role (an allow can only come from the binding), logging off.
 *
 * `token-cache-size` is small on purpose: cycling through more distinct
 * tokens than the cache holds makes every request of the unique-token
 * scenario a signature verification, while one repeated token stays a hit.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BENCH_AUDIENCE, BENCH_GROUP, BENCH_ISSUER } from './bench-issuer.js';

export interface BenchConfigInit {
  readonly dir: string;
  readonly jwksUri: string;
  readonly tokenCacheSize: number;
  /** Turn Basic authentication on (users from `users.yaml` in `dir`, which the caller writes). Default off. */
  readonly basicAuth?: boolean;
  /** Sign an identity token on every allow (authz.identity-token, generated ES256 key); written to its own file. Default off. */
  readonly identityToken?: boolean;
}

/** Writes the config file and returns its path. */
export function writeBenchConfig(init: BenchConfigInit): string {
  const path = join(init.dir, init.identityToken ? 'bench-config-idtoken.yaml' : 'bench-config.yaml');
  const yaml = `# Written by bench/run-check-bench.ts for one run; not for production.
kestra:
  encryption:
    secret-key: "bench-only-secret-0123456789abcdef0123456789"
  security:
    oidc:
      groups-claim-path: groups
    basic-auth:
      enabled: ${init.basicAuth === true}
authz:
  listen: { grpc: 127.0.0.1:0, http: 127.0.0.1:0, management: 127.0.0.1:0 }
  bearer:
    issuers:
      - issuer: ${BENCH_ISSUER}
        jwks-uri: ${init.jwksUri}
        audiences: [${BENCH_AUDIENCE}]
        algorithms: [RS256]
  users: { file: ${join(init.dir, 'users.yaml')} }
  roles:
    - name: flow-reader
      permissions: { FLOW: [READ] }
  bindings:
    - { group: ${BENCH_GROUP}, role: flow-reader, namespace: company.team }
  kestra-rules: true
  default: deny
  token-cache-size: ${init.tokenCacheSize}
  log: { level: silent }
${init.identityToken ? '  external-url: https://kestra.bench.test\n  identity-token: { enabled: true }\n' : ''}`;
  writeFileSync(path, yaml, { mode: 0o600 });
  return path;
}
