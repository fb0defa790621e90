/**
 * Service identities in the operator's tools: `kestra-authz test` cases with
 * the `service: spiffe://…` shorthand (the request carries the principal
 * through the same engine as `serve`), and `explain --principal` showing the
 * peer, the rule and binding that matched, and the shadow verdict when a
 * shadow policy exists.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { main, type CliIo } from '../../src/cli/main.js';
import { loadConfigFile } from '../../src/config/load-config.js';
import { parseCases } from '../../src/policy-tests/load-cases.js';
import { runCases } from '../../src/policy-tests/run-cases.js';
import { bearerServiceYaml } from '../helpers/bearer-service-config.js';

const CI_RUNNER = 'spiffe://cluster.local/ns/ci/sa/ci-runner';
const ISSUER = 'https://issuer.invalid';

function captured(): { io: CliIo; out: () => string } {
  const lines: string[] = [];
  return { io: { stdout: (t) => lines.push(t), stderr: (t) => lines.push(t) }, out: () => lines.join('\n') };
}

describe('service identities in policy tests and explain', () => {
  let dir: string;
  let configPath: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kauthz-mesh-cli-'));
    configPath = join(dir, 'config.yaml');
    const yaml = bearerServiceYaml({
      dir,
      issuer: ISSUER,
      bindings: [{ service: 'spiffe://cluster.local/ns/ci/sa/*', role: 'developer', namespace: 'company.team' }],
      rules: [{ id: 'exports', match: { path: '/exports/**' }, allow: 'authenticated' }],
    });
    // The shadow policy: the next version closes /exports to everyone.
    await writeFile(configPath, yaml.replace('authz:\n', 'authz:\n  shadow: next.yaml\n'));
    await writeFile(join(dir, 'next.yaml'), stringify({
      authz: {
        roles: [{ name: 'developer', permissions: { FLOW: ['READ'] } }],
        bindings: [{ service: 'spiffe://cluster.local/ns/ci/sa/*', role: 'developer', namespace: 'company.team' }],
        rules: [{ id: 'exports-closed', match: { path: '/exports/**' }, allow: 'deny' }],
      },
    }));
    await writeFile(join(dir, 'users.yaml'), 'users: []\n', { mode: 0o600 });
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('the service shorthand: a bound workload is allowed in its namespace, denied elsewhere, an unknown one is anonymous', async () => {
    const config = await loadConfigFile(configPath);
    const results = await runCases(config, parseCases(`
cases:
  - name: the CI runner starts an execution in its namespace
    service: ${CI_RUNNER}
    request: { method: POST, path: /api/v1/main/executions/company.team/deploy }
    expect: { verdict: allow, headers: { x-kestra-user: "${CI_RUNNER}" } }
  - name: not in another namespace
    service: ${CI_RUNNER}
    request: { method: GET, path: /api/v1/main/flows/company.other/x, headers: { accept: application/json } }
    expect: { verdict: 403, missing: "FLOW:READ" }
  - name: a workload no binding names is anonymous
    service: spiffe://cluster.local/ns/other/sa/x
    request: { method: GET, path: /api/v1/main/flows/company.team/x, headers: { accept: application/json } }
    expect: { verdict: 401, reason: no_credentials }
  - name: a user calling through the runner is decided as the user
    service: ${CI_RUNNER}
    user: alice
    request: { method: GET, path: /api/v1/main/flows/company.other/x }
    expect: { verdict: allow, headers: { x-kestra-user: alice } }
`, 'cases.yaml', {}).cases);
    for (const r of results) assert.ok(r.passed, `${r.case.name}: ${JSON.stringify(r.mismatches)}`);
    assert.equal(results.length, 4);
  });

  test('a bad service shorthand is refused with its line', () => {
    assert.throws(() => parseCases(`
cases:
  - name: bad
    service: https://not-spiffe/x
    request: { path: / }
    expect: { verdict: allow }
  - name: service with via
    service: ${CI_RUNNER}
    via: bearer
    request: { path: / }
    expect: { verdict: allow }
`, 'cases.yaml', {}), (err: Error) => {
      assert.match(err.message, /cases\.yaml:4.*service.*spiffe:\/\//s);
      assert.match(err.message, /via mtls/);
      return true;
    });
  });

  test('explain --principal: the peer, the identity, the binding that granted it, and the shadow verdict', async () => {
    const run = captured();
    const code = await main(['explain', '--config', configPath, '--path', '/api/v1/main/flows/company.team/hello', '--principal', CI_RUNNER], run.io);
    const out = run.out();
    assert.equal(code, 0, out);
    assert.match(out, new RegExp(`peer principal: ${CI_RUNNER}`));
    assert.match(out, /authenticate +mtls: spiffe:\/\/cluster\.local\/ns\/ci\/sa\/ci-runner/);
    assert.match(out, /holds role developer via service spiffe:\/\/cluster\.local\/ns\/ci\/sa\/\* on namespace company\.team/);
    assert.match(out, /identity: spiffe:\/\/cluster\.local\/ns\/ci\/sa\/ci-runner \(via mtls/);
    assert.match(out, /shadow verdict: ALLOW permitted by rule kestra:flows\.read \(.*next\.yaml\) — agrees with the live verdict/);

    const exports = captured();
    assert.equal(await main(['explain', '--config', configPath, '--path', '/exports/2026.csv', '--principal', CI_RUNNER], exports.io), 0);
    assert.match(exports.out(), /shadow verdict: DENY 403 rule_deny by rule exports-closed .* DISAGREES with the live verdict/);
  });

  test('explain --principal refuses what is not a SPIFFE id', async () => {
    const run = captured();
    const code = await main(['explain', '--config', configPath, '--path', '/', '--principal', 'ci-runner'], run.io);
    assert.notEqual(code, 0);
    assert.match(run.out(), /--principal must start with spiffe:\/\//);
  });
});
