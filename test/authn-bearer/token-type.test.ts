/**
 * tokenTypeProblem: which signature-verified JWTs are not access tokens
 * (RFC 8725 §3.11) — logout and other security event tokens always, tokens
 * of another `typ` than the issuer requires, ID tokens unless accepted.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BACKCHANNEL_LOGOUT_EVENT, normalizeTyp, tokenTypeProblem, type TokenTypeRules } from '../../src/authn/token-type.js';

const ANY: TokenTypeRules = { tokenTypes: [], acceptIdTokens: false };
const AT_JWT: TokenTypeRules = { tokenTypes: ['at+jwt'], acceptIdTokens: false };
const ID_OK: TokenTypeRules = { tokenTypes: [], acceptIdTokens: true };
const access = { sub: 's', aud: 'api' };

describe('tokenTypeProblem', () => {
  test('an ordinary access token passes (typ JWT, none, at+jwt)', () => {
    for (const header of [{ typ: 'JWT' }, {}, { typ: 'at+jwt' }, { typ: 'application/at+jwt' }]) {
      assert.equal(tokenTypeProblem(header, access, ANY), undefined, JSON.stringify(header));
    }
  });

  test('logout and security event tokens are refused whatever the rules', () => {
    const events = { ...access, events: { [BACKCHANNEL_LOGOUT_EVENT]: {} } };
    for (const rules of [ANY, AT_JWT, ID_OK, { tokenTypes: ['logout+jwt'], acceptIdTokens: true }]) {
      assert.equal(tokenTypeProblem({ typ: 'logout+jwt' }, access, rules), 'event_token');
      assert.equal(tokenTypeProblem({ typ: 'Application/Logout+JWT' }, access, rules), 'event_token');
      assert.equal(tokenTypeProblem({ typ: 'secevent+jwt' }, access, rules), 'event_token');
      assert.equal(tokenTypeProblem({ typ: 'JWT' }, events, rules), 'event_token', 'untyped: the events claim tells');
      assert.equal(tokenTypeProblem({ typ: 'at+jwt' }, events, rules), 'event_token');
      assert.equal(tokenTypeProblem({}, { ...access, events: null }, rules), 'event_token', 'any events claim');
    }
  });

  test('a typ that is not a string is refused', () => {
    assert.equal(tokenTypeProblem({ typ: 7 }, access, ANY), 'typ_unreadable');
    assert.equal(tokenTypeProblem({ typ: ['at+jwt'] }, access, AT_JWT), 'typ_unreadable');
  });

  test('token-types: the typ must be listed (case and application/ prefix ignored)', () => {
    assert.equal(tokenTypeProblem({ typ: 'AT+JWT' }, access, AT_JWT), undefined);
    assert.equal(tokenTypeProblem({ typ: 'application/at+jwt' }, access, AT_JWT), undefined);
    assert.equal(tokenTypeProblem({ typ: 'JWT' }, access, AT_JWT), 'typ_not_required');
    assert.equal(tokenTypeProblem({}, access, AT_JWT), 'typ_not_required');
    assert.equal(tokenTypeProblem({ typ: 'at+jwt+x' }, access, AT_JWT), 'typ_not_required');
  });

  test('ID tokens: recognised by nonce / at_hash / c_hash / s_hash or typ "ID"; accepted only when the issuer allows', () => {
    for (const marker of [{ nonce: 'n' }, { at_hash: 'h' }, { c_hash: 'h' }, { s_hash: 'h' }, { typ: 'ID' }, { typ: 'ID', nonce: 'n' }]) {
      const claims = { ...access, ...marker };
      assert.equal(tokenTypeProblem({ typ: 'JWT' }, claims, ANY), 'id_token', JSON.stringify(marker));
      assert.equal(tokenTypeProblem({ typ: 'JWT' }, claims, ID_OK), undefined, JSON.stringify(marker));
    }
    // Access tokens carrying a nonce: Keycloak (< 25) marks them typ "Bearer"; RFC 9068 ones are typed at+jwt.
    assert.equal(tokenTypeProblem({ typ: 'JWT' }, { ...access, nonce: 'n', typ: 'Bearer' }, ANY), undefined);
    assert.equal(tokenTypeProblem({ typ: 'at+jwt' }, { ...access, nonce: 'n' }, ANY), undefined);
    // azp alone is no marker: many IdPs put it in access tokens.
    assert.equal(tokenTypeProblem({ typ: 'JWT' }, { ...access, azp: 'client' }, ANY), undefined);
  });

  test('normalizeTyp', () => {
    assert.equal(normalizeTyp(' Application/AT+JWT '), 'at+jwt');
    assert.equal(normalizeTyp('JWT'), 'jwt');
  });
});
