/**
 * The bench's token issuer: one RS256 key kept in bench/results/ (gitignored)
 * so minted tokens can be reused across runs, a JWKS endpoint on 127.0.0.1
 * serving its public half, and a cache of pre-minted tokens.
 *
 * Not test/helpers/token-issuer.ts: that one makes a fresh key per start and
 * takes its issuer from its port, so tokens could never outlive one run. Here
 * the issuer string is fixed and the config names the JWKS URL directly.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { SignJWT, calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';

export const BENCH_ISSUER = 'https://sso.bench.invalid/realms/kestra';
export const BENCH_AUDIENCE = 'kestra';
/** The group the bench config binds to FLOW:READ on company.team. */
export const BENCH_GROUP = 'kestra-devs';

const TOKEN_LIFETIME_S = 365 * 24 * 3600;
/** Cached tokens are re-minted when they would expire within this margin. */
const MIN_REMAINING_S = 7 * 24 * 3600;
/** Signatures in flight while minting (WebCrypto signs on libuv's thread pool). */
const MINT_PARALLELISM = 32;

export interface StoredKey {
  readonly kid: string;
  readonly privateJwk: JWK;
}

interface StoredTokens {
  readonly kid: string;
  readonly issuer: string;
  readonly audience: string;
  readonly exp: number;
  readonly tokens: readonly string[];
}

export interface BenchIssuer {
  readonly kid: string;
  readonly jwksUri: string;
  /** JWKS requests served so far (one or two per server start is expected). */
  readonly jwksRequests: number;
  /** `count` distinct tokens (distinct sub and jti), minted now or read from the cache. */
  tokens(count: number, log: (line: string) => void): Promise<readonly string[]>;
  stop(): Promise<void>;
}

/** The issuer's one signing key (made on first use, then read back), for tools that mint tokens in bulk. */
export async function loadOrCreateKey(resultsDir: string): Promise<StoredKey> {
  const file = join(resultsDir, 'issuer-key.json');
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as StoredKey;
  const { privateKey } = await generateKeyPair('RS256', { modulusLength: 2048, extractable: true });
  const privateJwk = await exportJWK(privateKey);
  const kid = `bench-${(await calculateJwkThumbprint(privateJwk)).slice(0, 16)}`;
  const stored: StoredKey = { kid, privateJwk };
  writeFileSync(file, JSON.stringify(stored), { mode: 0o600 });
  return stored;
}

function publicHalf(key: StoredKey): JWK {
  const { kty, n, e } = key.privateJwk;
  return { kty, n, e, kid: key.kid, alg: 'RS256', use: 'sig' };
}

/** Bump when the claims change, so tokens cached by an older bench are not reused. */
const CLAIMS_VERSION = 2;

/** Claims like an IdP's access token; with the RS256 signature the token is ~835 bytes, as in performance.md. */
function claimsFor(index: number): Record<string, unknown> {
  return {
    sub: `6a0f3c2e-bench-user-${String(index).padStart(6, '0')}`,
    aud: BENCH_AUDIENCE,
    scope: 'openid profile email',
    preferred_username: `bench.user${index}`,
    email: `bench.user${index}@example.com`,
    groups: [BENCH_GROUP],
  };
}

export async function startBenchIssuer(resultsDir: string): Promise<BenchIssuer> {
  mkdirSync(resultsDir, { recursive: true });
  const key = await loadOrCreateKey(resultsDir);
  const jwks = JSON.stringify({ keys: [publicHalf(key)] });
  let jwksRequests = 0;

  const server: Server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/jwks') {
      jwksRequests++;
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=3600' }).end(jwks);
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const jwksUri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`;

  async function mint(count: number, log: (line: string) => void): Promise<StoredTokens> {
    const signingKey = await importJWK(key.privateJwk, 'RS256');
    const now = Math.floor(Date.now() / 1000);
    const exp = now + TOKEN_LIFETIME_S;
    const tokens: string[] = new Array<string>(count);
    let next = 0;
    const worker = async () => {
      while (next < count) {
        const index = next++;
        tokens[index] = await new SignJWT(claimsFor(index))
          .setProtectedHeader({ alg: 'RS256', kid: key.kid, typ: 'JWT' })
          .setIssuer(BENCH_ISSUER)
          .setIssuedAt(now)
          .setExpirationTime(exp)
          .setJti(randomUUID())
          .sign(signingKey);
        if (index > 0 && index % 5000 === 0) log(`  minted ${index}/${count} tokens`);
      }
    };
    await Promise.all(Array.from({ length: Math.min(MINT_PARALLELISM, count) }, worker));
    return { kid: key.kid, issuer: BENCH_ISSUER, audience: BENCH_AUDIENCE, exp, tokens };
  }

  return {
    kid: key.kid,
    jwksUri,
    get jwksRequests() { return jwksRequests; },
    async tokens(count, log) {
      const file = join(resultsDir, `tokens-v${CLAIMS_VERSION}-${count}.json`);
      if (existsSync(file)) {
        const cached = JSON.parse(readFileSync(file, 'utf8')) as StoredTokens;
        const fresh = cached.exp - Date.now() / 1000 > MIN_REMAINING_S;
        if (fresh && cached.kid === key.kid && cached.issuer === BENCH_ISSUER && cached.tokens.length === count) {
          return cached.tokens;
        }
      }
      log(`minting ${count} RS256 token(s) (cached in ${file} for later runs)`);
      const minted = await mint(count, log);
      writeFileSync(file, JSON.stringify(minted), { mode: 0o600 });
      return minted.tokens;
    },
    stop: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
