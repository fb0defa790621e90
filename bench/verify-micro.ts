/**
 * In-process cost of a first verification, µs per token, without the
 * transport: jose's `jwtVerify` (WebCrypto, the thread-pool hop; one at a time
 * and 32 in flight, as a loaded server has them) against jws-verify.ts's
 * `verifyJwtSync` (crypto.verify on the event loop), per algorithm; then the
 * whole bearer miss path (BearerAuthenticator.authenticate on never-seen
 * tokens: shape, hash, cache miss, untrusted decode, key lookup, verify,
 * claims, identity, cache insert), and a forged token's.
 *
 *   npm run build && node dist/bench/verify-micro.js [--tokens 4000] [--rounds 3]
 *   node --cpu-prof --cpu-prof-dir=bench/results dist/bench/verify-micro.js --only bearer
 *
 * Rounds interleave the contenders so a busy neighbour on the machine hits
 * them alike; the table shows each one's best round (least disturbed).
 */
import { constants, generateKeyPairSync, sign as cryptoSign, randomUUID, type KeyObject } from 'node:crypto';
import { jwtVerify } from 'jose';
import { runMain } from './bench-error.js';
import { flag, parseFlags } from './cli-flags.js';
import { importVerificationKeys, type FoundKey } from '../src/authn/jwks-keys.js';
import { verifyJwtSync } from '../src/authn/jws-verify.js';
import { BearerAuthenticator } from '../src/authn/bearer-jwt.js';
import { JwksCache } from '../src/authn/jwks-cache.js';
import { createAuthRequest, type AuthRequest } from '../src/core/auth-request.js';

const FLAGS = {
  tokens: { kind: 'int', min: 100, max: 100_000 },
  rounds: { kind: 'int', min: 1, max: 10 },
  only: { kind: 'string' },
} as const;

const ISSUER = 'https://sso.micro.invalid';
const AUDIENCE = 'kestra';
const ALGS = ['RS256', 'PS256', 'ES256', 'ES384', 'EdDSA'] as const;
type Alg = (typeof ALGS)[number];

function keyPair(alg: Alg): { privateKey: KeyObject; publicKey: KeyObject } {
  if (alg === 'RS256' || alg === 'PS256') return generateKeyPairSync('rsa', { modulusLength: 2048 });
  if (alg === 'ES256') return generateKeyPairSync('ec', { namedCurve: 'P-256' });
  if (alg === 'ES384') return generateKeyPairSync('ec', { namedCurve: 'P-384' });
  return generateKeyPairSync('ed25519');
}

function signToken(alg: Alg, kid: string, privateKey: KeyObject, claims: object): string {
  const input = `${Buffer.from(JSON.stringify({ alg, kid, typ: 'JWT' })).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  const data = Buffer.from(input);
  const signature = alg === 'EdDSA' ? cryptoSign(null, data, privateKey)
    : alg === 'PS256' ? cryptoSign('sha256', data, { key: privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 })
      : alg.startsWith('ES') ? cryptoSign(`sha${alg.slice(2)}`, data, { key: privateKey, dsaEncoding: 'ieee-p1363' })
        : cryptoSign('sha256', data, privateKey);
  return `${input}.${signature.toString('base64url')}`;
}

/** Claims like the bench issuer's access tokens (bench-issuer.ts), so the payload is the size the gRPC bench sends. */
function claimsFor(index: number, now: number): object {
  return {
    sub: `6a0f3c2e-micro-user-${String(index).padStart(6, '0')}`, aud: AUDIENCE, scope: 'openid profile email',
    preferred_username: `micro.user${index}`, email: `micro.user${index}@example.com`, groups: ['kestra-devs'],
    iss: ISSUER, iat: now, exp: now + 3600, jti: randomUUID(),
  };
}

const forge = (token: string) => {
  const at = token.lastIndexOf('.') + 10;
  return token.slice(0, at) + (token[at] === 'A' ? 'B' : 'A') + token.slice(at + 1);
};

async function timeIt(count: number, run: () => Promise<void> | void): Promise<number> {
  const start = process.hrtime.bigint();
  await run();
  return Number(process.hrtime.bigint() - start) / 1000 / count;
}

function request(token: string): AuthRequest {
  const req = createAuthRequest({ method: 'GET', path: '/api/v1/main/flows', host: 'kestra.local', headers: { authorization: `Bearer ${token}` } });
  if (!req) throw new Error('verify-micro: request not built');
  return req;
}

async function main(): Promise<void> {
  const flags = parseFlags('verify-micro', process.argv.slice(2), FLAGS);
  const count = flag(flags, 'tokens', 4000);
  const rounds = flag(flags, 'rounds', 3);
  const only = flag(flags, 'only', 'algs,bearer');
  const now = Math.floor(Date.now() / 1000);
  const options = { issuer: ISSUER, audience: [AUDIENCE], clockTolerance: 30, requiredClaims: ['exp', 'sub'] };
  const rows: string[] = ['| alg | jose jwtVerify, 1 in flight | jose jwtVerify, 32 in flight | verifyJwtSync | speed-up (32 in flight) |', '|---|---|---|---|---|'];

  if (only.includes('algs')) {
    for (const alg of ALGS) {
      const { privateKey, publicKey } = keyPair(alg);
      const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'k1' };
      const found = (await importVerificationKeys([jwk], [alg])).lookup(alg, 'k1') as FoundKey;
      const tokens = Array.from({ length: count }, (_, i) => signToken(alg, 'k1', privateKey, claimsFor(i, now)));
      const best = { serial: Infinity, parallel: Infinity, sync: Infinity };
      const algorithms = [alg];
      const algorithmSet = new Set(algorithms);
      for (let round = 0; round < rounds; round++) {
        best.serial = Math.min(best.serial, await timeIt(count, async () => {
          for (const token of tokens) await jwtVerify(token, found.key, { ...options, algorithms });
        }));
        best.parallel = Math.min(best.parallel, await timeIt(count, async () => {
          let next = 0;
          const worker = async () => {
            while (next < tokens.length) await jwtVerify(tokens[next++]!, found.key, { ...options, algorithms });
          };
          await Promise.all(Array.from({ length: 32 }, worker));
        }));
        best.sync = Math.min(best.sync, await timeIt(count, () => {
          for (const token of tokens) {
            const result = verifyJwtSync(token, found.fast!, { ...options, currentDate: new Date(), algorithms: algorithmSet });
            if (!result.ok) throw new Error(`verify-micro: ${alg} token refused (${result.error.code})`);
          }
        }));
      }
      rows.push(`| ${alg} | ${best.serial.toFixed(1)} µs | ${best.parallel.toFixed(1)} µs | ${best.sync.toFixed(1)} µs | ${(best.parallel / best.sync).toFixed(2)}× |`);
    }
    console.log(rows.join('\n'));
  }

  if (only.includes('bearer')) {
    // The whole bearer miss path: a JwksCache holding the key (no fetch happens: the keys are primed through a local JWKS).
    const { createServer } = await import('node:http');
    const { privateKey, publicKey } = keyPair('RS256');
    const jwks = JSON.stringify({ keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'RS256', use: 'sig' }] });
    const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(jwks));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const cache = new JwksCache({
      issuer: ISSUER, jwksUri: `http://127.0.0.1:${port}/jwks`, algorithms: ['RS256'], maxAgeMs: 3_600_000, cooldownMs: 10_000, timeoutMs: 2000,
    });
    await cache.start();
    const auth = new BearerAuthenticator({
      issuers: [{ issuer: ISSUER, audiences: [AUDIENCE], algorithms: ['RS256'], from: [] } as never],
      clockSkewSeconds: 30, userClaims: ['preferred_username', 'email', 'sub'], groupsClaimPath: 'groups',
      jwksCaches: new Map([[ISSUER, cache]]), tokenCacheSize: 1000,
    });
    const best = { valid: Infinity, forged: Infinity };
    for (let round = 0; round < rounds; round++) {
      const tokens = Array.from({ length: count }, (_, i) => signToken('RS256', 'k1', privateKey, claimsFor(round * count + i, now)));
      const requests = tokens.map(request);
      const forged = tokens.map((t) => request(forge(t)));
      best.valid = Math.min(best.valid, await timeIt(count, async () => {
        for (const req of requests) {
          const result = await auth.authenticate(req);
          if (result.kind !== 'ok') throw new Error(`verify-micro: bearer refused a valid token (${JSON.stringify(result)})`);
        }
      }));
      best.forged = Math.min(best.forged, await timeIt(count, async () => {
        for (const req of forged) {
          const result = await auth.authenticate(req);
          if (result.kind !== 'fail') throw new Error('verify-micro: bearer accepted a forged token');
        }
      }));
    }
    console.log(`\n| bearer miss path (RS256, BearerAuthenticator.authenticate) | µs per token |\n|---|---|\n| valid, never seen | ${best.valid.toFixed(1)} |\n| forged, never seen | ${best.forged.toFixed(1)} |`);
    cache.close();
    server.close();
  }
}

runMain(main);
