/**
 * The config used when none is given (`npm start` on a fresh clone): Basic
 * auth against ./users.yaml, the built-in Kestra rules, everything else
 * needs a login, signed-cookie sessions, default ports. No secret is set, so
 * an EPHEMERAL one is generated and a loud warning is returned with it.
 * Written as YAML and loaded by the same code as any file, so the default
 * can never drift from what the loader accepts.
 */
import type { Config } from './types.js';
import { parseConfig } from './load-config.js';

export const EMBEDDED_DEFAULT_SOURCE = '<embedded default>';

export const EMBEDDED_DEFAULT_YAML = `
kestra:
  security:
    basic-auth:
      enabled: true
authz:
  listen:
    grpc: 0.0.0.0:9191
    http: 0.0.0.0:8080
    management: 0.0.0.0:8081
  users:
    store: file
    file: ./users.yaml
  sessions:
    store: cookie
  kestra-rules: true
  default: authenticated
`;

/** `baseDir` (default: the working directory) resolves ./users.yaml. */
export function embeddedDefaultConfig(env: NodeJS.ProcessEnv = process.env, baseDir: string = process.cwd()): Config {
  return parseConfig(EMBEDDED_DEFAULT_YAML, EMBEDDED_DEFAULT_SOURCE, env, baseDir);
}
