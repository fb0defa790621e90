/**
 * The keys of issue 13 items 5 and 6: per-issuer `token-types`,
 * `accept-id-tokens`, `trust-email`, and `authz.oidc.trust-email-clients`.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { load, problemsOf, where, yamlLines } from './config-problems.js';

const issuer = (...lines: string[]) =>
  yamlLines('authz:', '  bearer:', '    issuers:', '      - issuer: https://idp.example.com', '        audiences: [api]', ...lines);

describe('token type and e-mail trust keys', () => {
  test('defaults: any typ, no ID tokens, e-mail only when verified', () => {
    const config = load(issuer());
    const [first] = config.bearer.issuers;
    assert.deepEqual([first!.tokenTypes, first!.acceptIdTokens, first!.trustEmail], [[], false, false]);
    assert.deepEqual(config.oidc.trustEmailClients, []);
  });

  test('token-types normalized (lower case, application/ dropped, duplicates merged); both key spellings', () => {
    const config = load(issuer('        token-types: [AT+JWT, application/at+jwt, application/JWT]', '        accept-id-tokens: true', '        trust-email: yes'));
    const [first] = config.bearer.issuers;
    assert.deepEqual([first!.tokenTypes, first!.acceptIdTokens, first!.trustEmail], [['at+jwt', 'jwt'], true, true]);
    const camel = load(issuer('        tokenTypes: at+jwt', '        acceptIdTokens: false', '        trustEmail: false'));
    assert.deepEqual(camel.bearer.issuers[0]!.tokenTypes, ['at+jwt']);
  });

  test('bad values are problems with their line', () => {
    assert.deepEqual(where(problemsOf(issuer('        token-types: []'))), [['authz.bearer.issuers[0].token-types', 6]]);
    assert.deepEqual(where(problemsOf(issuer('        token-types: ["at jwt"]'))), [['authz.bearer.issuers[0].token-types', 6]]);
    assert.deepEqual(where(problemsOf(issuer('        accept-id-tokens: maybe'))), [['authz.bearer.issuers[0].accept-id-tokens', 6]]);
  });

  test('trust-email-clients must name configured login clients', () => {
    const yaml = (names: string) => yamlLines(
      'micronaut:',
      '  security:',
      '    oauth2:',
      '      enabled: true',
      '      clients:',
      '        google:',
      '          client-id: kestra',
      '          openid: { issuer: https://accounts.google.com }',
      'authz:',
      '  oidc:',
      `    trust-email-clients: ${names}`,
    );
    assert.deepEqual(load(yaml('[google]')).oidc.trustEmailClients, ['google']);
    const problems = problemsOf(yaml('[google, okta]'));
    assert.deepEqual(where(problems), [['authz.oidc.trust-email-clients[1]', 11]]);
    assert.match(problems[0]!.message, /no client "okta"/);
  });
});
