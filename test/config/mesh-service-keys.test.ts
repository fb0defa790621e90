/**
 * The config keys of service identities (docs/mesh-identity.md):
 * `authz.http.client-cert-header`, bindings' `service`, rules'
 * `match.principals` — accepted forms, and every mistake named with its line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { load, problemsOf, SECRET, yamlLines } from './config-problems.js';

const head = [`kestra: { encryption: { secret-key: "${SECRET}" } }`, 'authz:'];

test('client-cert-header: off by default, a header name (lower-cased) when set', () => {
  assert.equal(load(yamlLines(...head, '  default: deny')).http.clientCertHeader, undefined);
  assert.equal(load(yamlLines(...head, '  http: { client-cert-header: X-Forwarded-Client-Cert }')).http.clientCertHeader, 'x-forwarded-client-cert');
  const problems = problemsOf(yamlLines(...head, '  http:', '    client-cert-header: "x forwarded"'));
  assert.deepEqual(problems.map((p) => [p.key, p.line]), [['authz.http.client-cert-header', 4]]);
});

test('a service binding and a principals rule load as written', () => {
  const config = load(yamlLines(...head,
    '  roles: [{ name: runner, permissions: { EXECUTION: [CREATE] } }]',
    '  bindings:',
    '    - { service: "spiffe://cluster.local/ns/ci/sa/*", role: runner, namespace: company.team }',
    '  rules:',
    '    - match: { path: /api/v1/internal/**, principals: ["spiffe://cluster.local/ns/kestra/**"] }',
    '      allow: public',
  ));
  assert.equal(config.bindings[0]!.service, 'spiffe://cluster.local/ns/ci/sa/*');
  assert.deepEqual(config.rules[0]!.match.principals, ['spiffe://cluster.local/ns/kestra/**']);
});

test('bad SPIFFE ids and bindings naming two kinds of subject are refused with their lines', () => {
  const problems = problemsOf(yamlLines(...head,
    '  roles: [{ name: runner, permissions: { EXECUTION: [CREATE] } }]',
    '  bindings:',
    '    - { service: "https://cluster.local/ns/ci/sa/runner", role: runner }',
    '    - { service: "spiffe://cluster.local/ns/ci/sa/runner", user: alice, role: runner }',
    '    - { service: "spiffe://*.local/ns/ci", role: runner }',
    '  rules:',
    '    - match: { path: /x, principals: [] }',
    '      allow: public',
    '    - match: { path: /y, principals: ["spiffe://cluster.local/ns/sa/ci-*"] }',
    '      allow: public',
  ));
  const byKey = new Map(problems.map((p) => [`${p.key}@${p.line}`, p.message]));
  assert.match(byKey.get('authz.bindings[0].service@5') ?? '', /spiffe:\/\//);
  assert.match(byKey.get('authz.bindings[1]@6') ?? '', /only one of user, group or service \(got user and service\)/);
  assert.match(byKey.get('authz.bindings[2].service@7') ?? '', /trust domain cannot hold a wildcard/);
  assert.match(byKey.get('authz.rules[0].match.principals@9') ?? '', /non-empty list/);
  assert.match(byKey.get('authz.rules[1].match.principals@11') ?? '', /whole segment/);
  assert.equal(problems.length, 5, JSON.stringify(problems));
  // Like every config problem, the messages say what is expected without echoing the value.
  for (const p of problems) assert.doesNotMatch(p.message, /cluster\.local\/ns\/(ci|sa)/);
});

test('a binding with none of user, group or service says which it needs', () => {
  const problems = problemsOf(yamlLines(...head, '  bindings:', '    - { role: admin }'));
  assert.deepEqual(problems.map((p) => p.message), ['needs user, group or service']);
});
