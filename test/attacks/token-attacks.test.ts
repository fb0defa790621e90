/**
 * Token attacks (RFC 8725, JWT best current practices) against the real
 * service: two trusted issuers on 127.0.0.1 (A by discovery, B by jwks-uri),
 * the attacker's own site, and forged tokens presented through the gRPC
 * Check door as Envoy would (a few also through the HTTP door). Every
 * attack is a 401 with its stable reason code — in the answer and as the
 * `reason` label of kestra_authz_decisions_total — and the next good token
 * is still allowed.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CompactEncrypt, CompactSign, SignJWT, exportJWK, exportSPKI, generateKeyPair, importJWK, type JWTPayload } from 'jose';
import { stringify } from 'yaml';
import type { ReasonCode } from '../../src/core/reasons.js';
import { startJwksServer, type JwksServer } from '../authn-bearer/jwks-server.js';
import { startGrpcDoor, type GrpcDoor } from '../helpers/grpc-door.js';
import { b64url, countedAs, decisionCount, expectAllowed, expectRefused, startAttackerSite, type AttackerSite } from './attack-kit.js';

const PROTECTED = '/api/v1/main/flows/company.team/hello';
const API = { accept: 'application/json' };

function configYaml(dir: string, a: JwksServer, b: JwksServer): string {
  return stringify({
    kestra: {
      encryption: { 'secret-key': 'token-attacks-secret-0123456789abcdef' },
      security: { 'default-role': { name: 'viewer', permissions: { FLOW: ['READ'] } } },
    },
    authz: {
      listen: { grpc: '127.0.0.1:0', http: '127.0.0.1:0', management: '127.0.0.1:0' },
      bearer: {
        'jwks-cooldown': '1h',
        issuers: [
          { issuer: a.issuer, audiences: ['kestra'] },
          { issuer: b.issuer, 'jwks-uri': b.jwksUri, audiences: ['kestra-b'] },
        ],
      },
      users: { file: join(dir, 'users.yaml') },
      log: { level: 'silent' },
    },
  });
}

describe('token attacks (RFC 8725) through the real service', () => {
  let dir: string;
  let a: JwksServer;
  let b: JwksServer;
  let attacker: AttackerSite;
  let door: GrpcDoor;
  let httpDoor: string;

  const now = () => Math.floor(Date.now() / 1000);
  const claimsA = (extra: JWTPayload = {}): JWTPayload => ({ iss: a.issuer, aud: 'kestra', sub: 'u-1', preferred_username: 'alice', iat: now(), exp: now() + 600, ...extra });
  const claimsB = (extra: JWTPayload = {}): JWTPayload => claimsA({ iss: b.issuer, aud: 'kestra-b', ...extra });
  const withToken = (token: string) => door.check({ method: 'GET', path: PROTECTED, headers: { ...API, authorization: `Bearer ${token}` } });

  /** One attack: 401 + reason in the answer + one more decision counted under that reason. */
  async function refused(token: string, reason: ReasonCode): Promise<void> {
    const res = await countedAs(reason, () => withToken(token));
    expectRefused(res, 401, reason);
    const challenge = res.denied_response?.headers?.find((h) => h.header.key === 'www-authenticate')?.header.value ?? '';
    assert.match(challenge, /^Bearer realm="kestra-authz", error="invalid_token"/);
    assert.ok(!(res.denied_response?.body ?? '').includes(token.slice(0, 60)), 'the answer never echoes the token');
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kauthz-token-attacks-'));
    a = await startJwksServer();
    b = await startJwksServer();
    attacker = await startAttackerSite();
    await a.addKey('a-1');
    await b.addKey('b-1');
    // The same kid at both issuers, different keys: kids are per issuer, never global.
    await a.addKey('shared');
    await b.addKey('shared');
    const configPath = join(dir, 'config.yaml');
    await writeFile(configPath, configYaml(dir, a, b));
    door = await startGrpcDoor(configPath);
    httpDoor = `http://127.0.0.1:${door.service.httpPort}`;
  });

  after(async () => {
    await door?.close();
    await Promise.all([a?.stop(), b?.stop(), attacker?.stop()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('control: good tokens of both issuers are allowed', async () => {
    expectAllowed(await withToken(await a.sign(claimsA(), 'a-1')));
    expectAllowed(await withToken(await b.sign(claimsB(), 'b-1')));
  });

  test('alg "none" in every spelling, with and without a signature → token_alg_not_allowed', async () => {
    for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
      await refused(`${b64url({ alg, typ: 'JWT' })}.${b64url(claimsA())}.`, 'token_alg_not_allowed');
      await refused(`${b64url({ alg, kid: 'a-1' })}.${b64url(claimsA())}.${b64url('sig')}`, 'token_alg_not_allowed');
    }
  });

  test("HS256/HS512 signed with the issuer's RSA public key as the HMAC secret (PEM and JWK forms) → token_alg_not_allowed", async () => {
    const key = a.key('a-1');
    const pkcs1 = createPublicKey({ key: key.publicJwk as import('node:crypto').JsonWebKey, format: 'jwk' }).export({ type: 'pkcs1', format: 'pem' }) as string;
    const secrets: Uint8Array[] = [
      Buffer.from(await exportSPKI(key.publicKey)),          // SPKI PEM, as served by many IdPs
      Buffer.from(pkcs1),                                    // PKCS#1 PEM
      Buffer.from(JSON.stringify(key.publicJwk)),            // the JWK as text
      Buffer.from(JSON.stringify({ keys: [key.publicJwk] })), // the whole JWKS document
      Buffer.from(String(key.publicJwk.n), 'base64url'),     // the raw modulus
    ];
    for (const secret of secrets) {
      for (const alg of ['HS256', 'HS512']) {
        const forged = await new SignJWT(claimsA()).setProtectedHeader({ alg, kid: 'a-1', typ: 'JWT' }).sign(secret);
        await refused(forged, 'token_alg_not_allowed');
      }
    }
  });

  test('a key named by the token (embedded jwk, jku, x5u at the attacker\'s site) → token_invalid, and nothing is fetched', async () => {
    const evil = await generateKeyPair('RS256', { extractable: true });
    const evilJwk = { ...(await exportJWK(evil.publicKey)), kid: 'evil-1', alg: 'RS256', use: 'sig' };
    attacker.serve('/jwks.json', { keys: [evilJwk] });
    attacker.serve('/cert.pem', { note: 'an attacker certificate chain would be here' });
    const jwksFetchesOfA = a.requests.jwks;
    const sign = (header: Record<string, unknown>) =>
      new SignJWT(claimsA()).setProtectedHeader({ alg: 'RS256', typ: 'JWT', ...header }).sign(evil.privateKey);

    await refused(await sign({ kid: 'evil-1', jwk: evilJwk }), 'token_invalid');
    await refused(await sign({ kid: 'a-1', jwk: evilJwk }), 'token_invalid');
    await refused(await sign({ kid: 'evil-1', jku: `${attacker.origin}/jwks.json` }), 'token_invalid');
    await refused(await sign({ kid: 'a-1', jku: `${attacker.origin}/jwks.json` }), 'token_invalid');
    await refused(await sign({ kid: 'evil-1', x5u: `${attacker.origin}/cert.pem` }), 'token_invalid');
    // The same header members on a token really signed by A are refused too: they are never honoured.
    await refused(await a.sign(claimsA(), 'a-1', { jku: `${attacker.origin}/jwks.json` }), 'token_invalid');

    assert.equal(attacker.hits, 0, "the attacker's site was never contacted");
    assert.equal(a.requests.jwks, jwksFetchesOfA, "no refetch of A's JWKS was triggered either");
  });

  test('an unknown crit extension (signed by the real key) → token_invalid', async () => {
    const key = a.key('a-1');
    const forged = await new CompactSign(new TextEncoder().encode(JSON.stringify(claimsA())))
      .setProtectedHeader({ alg: 'RS256', kid: 'a-1', crit: ['urn:example:must-understand'], 'urn:example:must-understand': true })
      .sign(key.privateKey, { crit: { 'urn:example:must-understand': true } });
    await refused(forged, 'token_invalid');
  });

  test('time and audience claims: expired, not yet valid, wrong iss, wrong aud, missing aud', async () => {
    await refused(await a.sign(claimsA({ iat: now() - 7200, exp: now() - 3600 }), 'a-1'), 'token_expired');
    await refused(await a.sign(claimsA({ nbf: now() + 3600 }), 'a-1'), 'token_not_yet_valid');
    await refused(await a.sign(claimsA({ iss: 'https://evil.example' }), 'a-1'), 'token_untrusted_issuer');
    await refused(await a.sign(claimsA({ iss: `${a.issuer}/` }), 'a-1'), 'token_untrusted_issuer');
    await refused(await a.sign(claimsA({ aud: 'someone-else' }), 'a-1'), 'token_bad_audience');
    // B's audience is not A's: an audience is accepted only from the issuer it is configured for.
    await refused(await a.sign(claimsA({ aud: 'kestra-b' }), 'a-1'), 'token_bad_audience');
    await refused(await a.sign(claimsA({ aud: undefined }), 'a-1'), 'token_bad_audience');
  });

  test("issuer confusion: A's claims with B's kid, and a kid both issuers publish", async () => {
    // Signed by B's key, claiming to be A, naming B's kid: A's key set has no such kid.
    await refused(await b.sign(claimsA(), 'b-1'), 'token_unknown_kid');
    // A kid both publish: the key is taken from the claimed issuer's set only, so B's signature fails for A.
    await refused(await b.sign(claimsA(), 'shared'), 'token_bad_signature');
    await refused(await a.sign(claimsB(), 'shared'), 'token_bad_signature');
    // And the good ones with the shared kid still pass.
    expectAllowed(await withToken(await a.sign(claimsA(), 'shared')));
    expectAllowed(await withToken(await b.sign(claimsB(), 'shared')));
  });

  test('malformed tokens: bad base64url, truncated, non-JSON header, wrong dot counts', async () => {
    const good = await a.sign(claimsA(), 'a-1');
    const [h, p, s] = good.split('.') as [string, string, string];
    const cases: [string, ReasonCode][] = [
      [`${h}.${p}.${s.slice(0, 10)}+/=`, 'token_malformed'],       // base64 (not url) characters
      [`${h}$.${p}.${s}`, 'token_malformed'],
      [`${h}.${p}`, 'token_malformed'],                            // signature segment cut off
      [h, 'token_malformed'],
      [`${h}.${p.slice(0, p.length >> 1)}.${s}`, 'token_malformed'], // payload cut in the middle
      [`${h.slice(0, -5)}.${p}.${s}`, 'token_malformed'],           // header cut in the middle
      [`${b64url('not json at all')}.${p}.${s}`, 'token_malformed'],
      [`${b64url('["RS256"]')}.${p}.${s}`, 'token_malformed'],
      [`${h}.${b64url('"just a string"')}.${s}`, 'token_malformed'],
      [`${h}..${s}`, 'token_malformed'],
      ['a..b', 'token_malformed'],
      ['a.b.c.d', 'token_malformed'],
      [`${good}.${s}`, 'token_malformed'],
      ['..', 'token_malformed'],
      ['....', 'token_malformed'],
      [`${h}.${p}.${s.slice(0, -4)}`, 'token_bad_signature'],       // valid shape, signature truncated
    ];
    for (const [token, reason] of cases) await refused(token, reason);
    expectAllowed(await withToken(good));
  });

  test('a compact JWE (5 segments) where a JWS is expected → token_malformed', async () => {
    // Encrypted to the issuer's own public key, so it is a real JWE the issuer could have made.
    const jwe = await new CompactEncrypt(new TextEncoder().encode(JSON.stringify(claimsA())))
      .setProtectedHeader({ alg: 'RSA-OAEP-256', enc: 'A256GCM', kid: 'a-1' })
      .encrypt(await importJWK({ ...a.key('a-1').publicJwk, alg: 'RSA-OAEP-256', use: 'enc' }, 'RSA-OAEP-256'));
    assert.equal(jwe.split('.').length, 5);
    await refused(jwe, 'token_malformed');
  });

  test('a 1 MB token and a 64 KB Authorization header: refused, the service stays up, the next good token passes', async () => {
    const good = await a.sign(claimsA(), 'a-1');
    const [h, p, s] = good.split('.') as [string, string, string];
    await refused(`${h}.${p}${'A'.repeat(1024 * 1024)}.${s}`, 'token_malformed');
    await refused('x'.repeat(64 * 1024), 'token_malformed');
    await refused(`${h}.${'A'.repeat(64 * 1024)}.${s}`, 'token_malformed');
    assert.equal(await door.client.health(''), 'SERVING');
    expectAllowed(await withToken(good));

    // The HTTP door: Node refuses a 64 KB header before any decision (431), and carries on.
    const big = await fetch(`${httpDoor}/ext_authz${PROTECTED}`, { headers: { ...API, authorization: `Bearer ${'x'.repeat(64 * 1024)}` } });
    assert.equal(big.status, 431);
    await big.arrayBuffer();
    const after = await fetch(`${httpDoor}/ext_authz${PROTECTED}`, { headers: { ...API, authorization: `Bearer ${good}` } });
    assert.equal(after.status, 200);
  });

  test('the HTTP door refuses the same attacks with the same reasons (mode="http")', async () => {
    const evil = await generateKeyPair('RS256', { extractable: true });
    const cases: [string, ReasonCode][] = [
      [`${b64url({ alg: 'none' })}.${b64url(claimsA())}.`, 'token_alg_not_allowed'],
      [await new SignJWT(claimsA()).setProtectedHeader({ alg: 'RS256', kid: 'a-1', jku: `${attacker.origin}/jwks.json` }).sign(evil.privateKey), 'token_invalid'],
      [await a.sign(claimsA({ exp: now() - 3600 }), 'a-1'), 'token_expired'],
      ['a.b.c.d', 'token_malformed'],
    ];
    for (const [token, reason] of cases) {
      const before = await decisionCount(reason, 'http');
      const res = await fetch(`${httpDoor}/ext_authz${PROTECTED}`, { headers: { ...API, authorization: `Bearer ${token}` } });
      assert.equal(res.status, 401);
      assert.equal(((await res.json()) as { error: string }).error, reason);
      assert.match(res.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
      assert.equal(await decisionCount(reason, 'http'), before + 1);
    }
    assert.equal(attacker.hits, 0);
  });
});
