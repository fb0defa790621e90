/** Test helper: load YAML text and return its ConfigError problems (fails the test if it loads). */
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/load-config.js';
import { ConfigError, type ConfigProblem } from '../../src/core/errors.js';
import type { Config } from '../../src/config/types.js';

export const SECRET = 'a-secret-of-at-least-thirty-two-bytes!!';

/** Lines joined with "\n": line N of the YAML is lines[N - 1]. */
export function yamlLines(...lines: string[]): string {
  return `${lines.join('\n')}\n`;
}

export function problemsOf(text: string, env: NodeJS.ProcessEnv = {}): ConfigProblem[] {
  try {
    parseConfig(text, 'test.yaml', env, '/srv/authz');
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    assert.equal(err.code, 'ERR_CONFIG_INVALID');
    return [...err.problems];
  }
  assert.fail('the config loaded but problems were expected');
}

export function load(text: string, env: NodeJS.ProcessEnv = {}): Config {
  return parseConfig(text, 'test.yaml', env, '/srv/authz');
}

/** [key, line] pairs, the easy thing to compare. */
export function where(problems: readonly ConfigProblem[]): [string, number | undefined][] {
  return problems.map((p) => [p.key, p.line]);
}

/**
 * `micronaut.security.oauth2.clients.<name>` as YAML lines: client id
 * `kestra-prod`, issuer `https://auth.example.com`, plus `clientKeys` (each a
 * `key: value` line of that client).
 */
export function oauthClientLines(name: string, ...clientKeys: string[]): string[] {
  return [
    'micronaut:',
    '  security:',
    '    oauth2:',
    '      enabled: true',
    '      clients:',
    `        ${name}:`,
    '          client-id: kestra-prod',
    ...clientKeys.map((line) => `          ${line}`),
    '          openid: { issuer: https://auth.example.com }',
  ];
}
