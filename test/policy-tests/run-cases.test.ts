/**
 * Cases decided by the engine `serve` builds: identities from shorthands
 * (claims through the real claims → identity mapping), every expectation
 * compared, upstream headers as the upstream would see them, a path the
 * doors refuse decided 400, an identity that cannot be built a failure.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfigFile } from '../../src/config/load-config.js';
import type { Config } from '../../src/config/types.js';
import { parseCases } from '../../src/policy-tests/load-cases.js';
import { runCases, type CaseResult } from '../../src/policy-tests/run-cases.js';
import { bearerServiceYaml } from '../helpers/bearer-service-config.js';

const ISSUER = 'https://issuer.invalid';

describe('policy test cases through the engine', () => {
  let dir: string;
  let config: Config;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kauthz-cases-'));
    const configPath = join(dir, 'config.yaml');
    // The issuer is never asked: no case carries a token.
    await writeFile(configPath, bearerServiceYaml({ dir, issuer: ISSUER, rules: [{ id: 'closed', match: { path: '/closed/**' }, allow: 'deny' }] }));
    await writeFile(join(dir, 'users.yaml'), 'users: []\n', { mode: 0o600 });
    config = await loadConfigFile(configPath);
  });

  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const run = (yaml: string): Promise<CaseResult[]> => runCases(config, parseCases(yaml, 'cases.yaml', {}).cases);

  test('claims map through the issuer groups claim path; every expectation holds', async () => {
    const [result] = await run(`
cases:
  - name: a developer deletes in its namespace
    claims: { sub: u-1, preferred_username: dev, resource_access: { kestra: { roles: [kestra-devs] } } }
    request:
      method: DELETE
      path: /api/v1/main/flows/company.team/f
      headers: { X-Client-Note: kept, X-Kestra-User: forged }
    expect:
      verdict: allow
      rule: "kestra:flows.delete"
      reason: permitted
      headers: { x-kestra-user: dev, x-client-note: kept, x-never-sent: null }
`);
    assert.deepEqual(result!.mismatches, []);
    assert.equal(result!.passed, true);
    assert.equal(result!.ruleId, 'kestra:flows.delete');
  });

  test('each expectation that does not hold is one mismatch: expected and actual', async () => {
    const [result] = await run(`
cases:
  - name: same developer, another namespace
    claims: { sub: u-1, preferred_username: dev, resource_access: { kestra: { roles: [kestra-devs] } } }
    request: { method: DELETE, path: /api/v1/main/flows/company.other/f }
    expect: { verdict: allow, rule: "kestra:flows.read", reason: permitted, missing: "FLOW:READ", headers: { x-kestra-user: dev } }
`);
    assert.equal(result!.passed, false);
    assert.deepEqual(result!.mismatches, [
      { field: 'verdict', expected: '"allow"', actual: '403' },
      { field: 'rule', expected: '"kestra:flows.read"', actual: '"kestra:flows.delete"' },
      { field: 'reason', expected: '"permitted"', actual: '"permission_denied"' },
      { field: 'missing', expected: '"FLOW:READ"', actual: '"FLOW:DELETE in namespace company.other"' },
      { field: 'headers.x-kestra-user', expected: '"dev"', actual: '(absent)' },
    ]);
  });

  test('missing matches the permission alone or the whole text; user shorthands and deny rules', async () => {
    const results = await run(`
cases:
  - name: permission alone
    user: dev
    groups: [kestra-devs]
    request: { method: DELETE, path: /api/v1/main/flows/company.other/f }
    expect: { verdict: 403, missing: "FLOW:DELETE" }
  - name: whole text
    user: dev
    groups: [kestra-devs]
    request: { method: DELETE, path: /api/v1/main/flows/company.other/f }
    expect: { verdict: 403, missing: "FLOW:DELETE in namespace company.other" }
  - name: a search outside its namespace
    user: dev
    groups: [kestra-devs]
    via: basic
    request: { path: "/api/v1/main/flows/search?filters[namespace][PREFIX]=company" }
    expect: { verdict: 403, rule: "kestra:flows.search", missing: FLOW:READ }
  - name: a search inside it
    user: dev
    groups: [kestra-devs]
    request: { path: "/api/v1/main/flows/search?filters[namespace][PREFIX]=company.team.sub" }
    expect: { verdict: allow }
  - name: another tenant
    user: dev
    tenant: other
    request: { path: /api/v1/main/flows/company.team/f }
    expect: { verdict: 403, reason: tenant_denied }
  - name: a deny rule denies even an admin
    user: root
    admin: true
    request: { path: /closed/door }
    expect: { verdict: 403, rule: closed, reason: rule_deny }
`);
    for (const r of results) assert.deepEqual(r.mismatches, [], r.case.name);
  });

  test('a path the doors refuse is 400; claims without sub or an unknown issuer fail the case, never throw', async () => {
    const [bad, noSub, unknownIssuer] = await run(`
cases:
  - name: escapes the root
    anonymous: true
    request: { path: "/a/%2e%2e/%2e%2e/%00" }
    expect: { verdict: 400, reason: bad_request }
  - name: no sub
    claims: { preferred_username: dev }
    request: { path: /api/v1/main/flows/a/b }
    expect: { verdict: allow }
  - name: unknown issuer
    claims: { sub: u-1 }
    issuer: https://elsewhere.invalid
    request: { path: /api/v1/main/flows/a/b }
    expect: { verdict: allow }
`);
    assert.deepEqual(bad!.mismatches, []);
    assert.equal(noSub!.passed, false);
    assert.match(noSub!.mismatches[0]!.actual, /no usable sub/);
    assert.equal(unknownIssuer!.passed, false);
    assert.match(unknownIssuer!.mismatches[0]!.actual, /issuer https:\/\/elsewhere\.invalid is not a configured bearer issuer/);
  });
});
