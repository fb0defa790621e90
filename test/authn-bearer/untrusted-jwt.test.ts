/**
 * readUntrustedJwt picks the issuer and key before jose verifies: it must
 * read what jose's own decoders read, and refuse what they refuse, so that
 * replacing them changed speed and nothing else.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { readUntrustedJwt } from '../../src/authn/untrusted-jwt.js';

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64url');
const token = (header: string, claims: string) => `${b64(header)}.${b64(claims)}.c2ln`;

/** jose's reading of the same token, or undefined where jose throws. */
function joseReading(jwt: string): { header: object; claims: object } | undefined {
  try {
    return { header: decodeProtectedHeader(jwt), claims: decodeJwt(jwt) };
  } catch {
    return undefined;
  }
}

describe('readUntrustedJwt', () => {
  it('reads the header and claims of a compact JWS', () => {
    const read = readUntrustedJwt(token('{"alg":"RS256","kid":"k1"}', '{"iss":"https://idp","sub":"alice","groups":["a"]}'));
    assert.deepEqual(read, { header: { alg: 'RS256', kid: 'k1' }, claims: { iss: 'https://idp', sub: 'alice', groups: ['a'] }, utf8: true });
  });

  const cases: readonly [string, string][] = [
    ['plain header and claims', token('{"alg":"RS256"}', '{"iss":"x"}')],
    ['unicode claims', token('{"alg":"ES256"}', '{"name":"Zoë 😀","iss":"é"}')],
    ['__proto__ as a member', token('{"alg":"RS256","__proto__":{"jwk":1}}', '{"iss":"x"}')],
    ['header is an array', token('["alg"]', '{"iss":"x"}')],
    ['claims are an array', token('{"alg":"RS256"}', '[1,2]')],
    ['header is null', token('null', '{"iss":"x"}')],
    ['claims are a string', token('{"alg":"RS256"}', '"iss"')],
    ['header is a number', token('7', '{}')],
    ['header is not JSON', token('{alg:RS256}', '{"iss":"x"}')],
    ['claims are not JSON', token('{"alg":"RS256"}', 'not json')],
    ['claims are invalid UTF-8', `${b64('{"alg":"RS256"}')}.${Buffer.from([0x7b, 0xff, 0xfe, 0x7d]).toString('base64url')}.c2ln`],
    ['empty header', `.${b64('{"iss":"x"}')}.c2ln`],
    ['empty claims', `${b64('{"alg":"RS256"}')}..c2ln`],
    ['two parts', `${b64('{"alg":"RS256"}')}.${b64('{"iss":"x"}')}`],
    ['trailing JSON text', token('{"alg":"RS256"} x', '{"iss":"x"}')],
    ['whitespace around JSON', token(' {"alg":"RS256"} ', '\n{"iss":"x"}\t')],
  ];
  for (const [name, jwt] of cases) {
    it(`agrees with jose's decoders: ${name}`, () => {
      const ours = readUntrustedJwt(jwt);
      const jose = joseReading(jwt);
      assert.equal(ours === undefined, jose === undefined, `ours ${JSON.stringify(ours)} vs jose ${JSON.stringify(jose)}`);
      if (ours && jose) assert.deepEqual({ header: { ...ours.header }, claims: { ...ours.claims } }, { header: { ...jose.header }, claims: { ...jose.claims } });
      // Valid UTF-8 is reported only when both segments are; the claims-are-invalid-UTF-8 case reads, but not as UTF-8.
      if (ours) assert.equal(ours.utf8, name !== 'claims are invalid UTF-8', name);
    });
  }
});
