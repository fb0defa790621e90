/**
 * Problems inside sections, with key and line: bearer issuers, roles,
 * bindings, rules and path templates, permissions, URLs, OIDC clients, cookie.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { load, problemsOf, where, yamlLines } from './config-problems.js';

describe('config problems by section', () => {
  test('bearer algorithms none and HS256 are rejected; asymmetric ones accepted and normalized', () => {
    const issuer = (algs: string) =>
      yamlLines('authz:', '  bearer:', '    issuers:', '      - issuer: https://idp.example.com', '        audiences: [api]', `        algorithms: ${algs}`);
    for (const bad of ['[RS256, none]', '[HS256]', '[hs512]']) {
      const problems = problemsOf(issuer(bad));
      assert.deepEqual(where(problems), [['authz.bearer.issuers[0].algorithms', 6]], bad);
      assert.match(problems[0]!.message, /not accepted/);
    }
    assert.match(problemsOf(issuer('[RS1]'))[0]!.message, /not a supported algorithm/);
    const config = load(issuer('[rs256, ES384, EdDSA, RS256]'));
    assert.deepEqual(config.bearer.issuers[0]!.algorithms, ['RS256', 'ES384', 'EdDSA']);
  });

  test('bearer issuer: audiences required, from entries need exactly one of header/cookie, duplicate issuers', () => {
    const problems = problemsOf(
      yamlLines(
        'authz:',
        '  bearer:',
        '    issuers:',
        '      - issuer: https://a.example.com', //  4  no audiences
        '      - issuer: https://b.example.com', //  5
        '        audiences: [x]',
        '        from:',
        '          - { header: x-token, cookie: t }', // 8 both
        '          - { prefix: "Bearer " }', //         9 neither
        '          - { cookie: t, prefix: "x" }', //    10 prefix with cookie
        '      - issuer: https://b.example.com', //    11 duplicate
        '        audiences: [y]',
        '      - issuer: not-a-url', //                13 no jwks-uri
        '        audiences: [z]',
      ),
    );
    assert.deepEqual(where(problems), [
      ['authz.bearer.issuers[0].audiences', 4],
      ['authz.bearer.issuers[1].from[0]', 8],
      ['authz.bearer.issuers[1].from[1]', 9],
      ['authz.bearer.issuers[1].from[2].prefix', 10],
      ['authz.bearer.issuers[2].issuer', 11],
      ['authz.bearer.issuers[3].issuer', 13],
    ]);
  });

  test('bearer from: header names lower-cased; prefix defaults to "Bearer " only for authorization', () => {
    const config = load(
      yamlLines(
        'authz:',
        '  bearer:',
        '    issuers:',
        '      - issuer: https://a.example.com',
        '        audiences: [x]',
        '        from: [{ header: Authorization }, { header: X-Api-Token }, { header: X-Other, prefix: "Token " }]',
      ),
    );
    assert.deepEqual(config.bearer.issuers[0]!.from, [
      { header: 'authorization', prefix: 'Bearer ' },
      { header: 'x-api-token', prefix: '' },
      { header: 'x-other', prefix: 'Token ' },
    ]);
  });

  test('roles and bindings: duplicates, reserved admin, both/neither user and group', () => {
    const problems = problemsOf(
      yamlLines(
        'authz:',
        '  roles:',
        '    - { name: dev, permissions: { FLOW: [READ] } }', //  3
        '    - { name: dev }', //                                4 duplicate
        '    - { name: Admin }', //                              5 reserved
        '  bindings:',
        '    - { user: bob, group: g, role: dev }', //           7 both
        '    - { role: dev }', //                                8 neither
        '    - { user: carol, role: admin }', //                 9 fine: built in
      ),
    );
    assert.deepEqual(where(problems), [
      ['authz.roles[1].name', 4],
      ['authz.roles[2].name', 5],
      ['authz.bindings[0]', 7],
      ['authz.bindings[1]', 8],
    ]);
  });

  test('rules: both/neither allow and require, bad require format, duplicate ids; require normalized', () => {
    const problems = problemsOf(
      yamlLines(
        'authz:',
        '  rules:',
        '    - { match: { path: /a }, allow: public, require: FLOW:READ }', // 3
        '    - { match: { path: /b } }', //                                    4
        '    - { match: { path: /c }, require: FLOW }', //                     5
        '    - { id: x, match: { path: /d }, allow: deny }', //                6
        '    - { id: x, match: { path: /e }, allow: deny }', //                7
        '    - { match: { path: "/f/{a}/{a}" }, allow: deny }', //             8
        '    - { match: { path: "/g/**/h" }, allow: deny }', //                9
        '    - { match: { path: "/h/x{id}" }, allow: deny }', //               10
      ),
    );
    assert.deepEqual(where(problems), [
      ['authz.rules[0]', 3],
      ['authz.rules[1]', 4],
      ['authz.rules[2].require', 5],
      ['authz.rules[4].id', 7],
      ['authz.rules[5].match.path', 8],
      ['authz.rules[6].match.path', 9],
      ['authz.rules[7].match.path', 10],
    ]);
    const config = load(
      yamlLines('authz:', '  rules:', '    - { match: { methods: [get, Post], path: "/x/{ns}/**", host: API.Example.com }, require: "flow:*" }'),
    );
    assert.deepEqual(config.rules[0], {
      id: 'rule[0]',
      match: { methods: ['GET', 'POST'], path: '/x/{ns}/**', host: 'api.example.com' },
      allow: undefined,
      require: 'FLOW:*',
      line: 3,
    });
  });

  test('permissions: resource and action names upper-cased, open strings, * allowed', () => {
    const config = load(
      yamlLines('authz:', '  roles:', '    - name: v2', '      permissions: { flow: [view, Execute, view], namespace: ["*"] }'),
    );
    assert.deepEqual(config.roles[0]!.permissions, { FLOW: ['VIEW', 'EXECUTE'], NAMESPACE: ['*'] });
    const problems = problemsOf(yamlLines('authz:', '  roles:', '    - name: r', '      permissions: { FLOW: READ, "BAD NAME": [READ] }'));
    assert.deepEqual(where(problems), [['authz.roles[0].permissions', 4]]);
  });

  test('URLs: external-url must be absolute http(s); store URLs need their scheme; passwords never echoed', () => {
    const problems = problemsOf(
      yamlLines(
        'authz:',
        '  external-url: kestra.example.com',
        '  users: { store: postgres, url: "mysql://u:hunter2pw@db/x" }',
        '  sessions: { store: redis }',
      ),
    );
    assert.deepEqual(where(problems), [
      ['authz.external-url', 2],
      ['authz.users.url', 3],
      ['authz.sessions', 4],
    ]);
    assert.ok(!JSON.stringify(problems).includes('hunter2pw'));
  });

  test('OIDC enabled: each client needs client-id and openid.issuer; scopes must include openid', () => {
    const problems = problemsOf(
      yamlLines(
        'micronaut:',
        '  security:',
        '    oauth2:',
        '      enabled: true',
        '      clients:',
        '        google:', //                        6 no client-id
        '          openid: { issuer: https://accounts.google.com }',
        '        dex:', //                           8 no issuer
        '          client-id: kestra',
        '          scopes: [email]', //              10
      ),
    );
    assert.deepEqual(where(problems), [
      ['micronaut.security.oauth2.clients.google', 6],
      ['micronaut.security.oauth2.clients.dex', 8],
      ['micronaut.security.oauth2.clients.dex.scopes', 10],
    ]);
    assert.deepEqual(where(problemsOf(yamlLines('micronaut:', '  security:', '    oauth2:', '      enabled: true'))), [
      ['micronaut.security.oauth2.enabled', 4],
    ]);
  });

  test('cookie: SameSite=None without Secure is rejected; same-site is case-insensitive', () => {
    const cookie = (lines: string[]) => yamlLines('micronaut:', '  security:', '    token:', '      cookie:', ...lines);
    assert.deepEqual(where(problemsOf(cookie(['        cookie-same-site: None', '        cookie-secure: false']))), [
      ['micronaut.security.token.cookie.cookie-same-site', 5],
    ]);
    const config = load(cookie(['        cookie-same-site: Strict', '        cookie-max-age: P2D', '        cookie-secure: true']));
    assert.equal(config.cookie.sameSite, 'strict');
    assert.equal(config.cookie.maxAgeSeconds, 2 * 86_400);
    assert.equal(config.cookie.secure, true);
  });
});
