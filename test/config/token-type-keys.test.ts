/**
 * The keys of issue 13 item 5: per-issuer `token-types` and `accept-id-tokens`.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { load, problemsOf, where, yamlLines } from './config-problems.js';

const issuer = (...lines: string[]) =>
  yamlLines('authz:', '  bearer:', '    issuers:', '      - issuer: https://idp.example.com', '        audiences: [api]', ...lines);

describe('token type and e-mail trust keys', () => {
  test('defaults: any typ, no ID tokens', () => {
    const [first] = load(issuer()).bearer.issuers;
    assert.deepEqual([first!.tokenTypes, first!.acceptIdTokens], [[], false]);
  });

  test('token-types normalized (lower case, application/ dropped, duplicates merged); both key spellings', () => {
    const config = load(issuer('        token-types: [AT+JWT, application/at+jwt, application/JWT]', '        accept-id-tokens: yes'));
    const [first] = config.bearer.issuers;
    assert.deepEqual([first!.tokenTypes, first!.acceptIdTokens], [['at+jwt', 'jwt'], true]);
    const camel = load(issuer('        tokenTypes: at+jwt', '        acceptIdTokens: false'));
    assert.deepEqual(camel.bearer.issuers[0]!.tokenTypes, ['at+jwt']);
  });

  test('bad values are problems with their line', () => {
    assert.deepEqual(where(problemsOf(issuer('        token-types: []'))), [['authz.bearer.issuers[0].token-types', 6]]);
    assert.deepEqual(where(problemsOf(issuer('        token-types: ["at jwt"]'))), [['authz.bearer.issuers[0].token-types', 6]]);
    assert.deepEqual(where(problemsOf(issuer('        accept-id-tokens: maybe'))), [['authz.bearer.issuers[0].accept-id-tokens', 6]]);
  });
});
