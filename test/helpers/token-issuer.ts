/**
 * A real token issuer for tests: an HTTP server serving OIDC discovery and a
 * JWKS for keys the test holds, and a `mint` to sign tokens with them.
 * Keys can be rotated and the server stopped to model an unreachable IdP.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair, type JWTPayload, type CryptoKey, type JWK } from 'jose';

interface HeldKey {
  kid: string;
  alg: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export interface TokenIssuer {
  readonly issuer: string;
  readonly jwksUri: string;
  /** JWKS requests served so far. */
  readonly jwksRequests: number;
  /** Adds a key; `publish: false` keeps it out of the JWKS (an unknown kid). */
  addKey(kid: string, options?: { alg?: 'RS256' | 'ES256'; publish?: boolean }): Promise<void>;
  /** Starts (or stops) publishing a key that was added unpublished. */
  publish(kid: string, published: boolean): void;
  mint(claims: JWTPayload, options?: { kid?: string; expiresIn?: string | number; header?: Record<string, unknown> }): Promise<string>;
  stop(): Promise<void>;
}

export async function startTokenIssuer(): Promise<TokenIssuer> {
  const keys = new Map<string, HeldKey>();
  const published = new Set<string>();
  let jwksRequests = 0;
  let base = '';

  const server: Server = createServer((req, res) => {
    if (req.url === '/.well-known/openid-configuration') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({
        issuer: base,
        jwks_uri: `${base}/jwks`,
        authorization_endpoint: `${base}/auth`,
        token_endpoint: `${base}/token`,
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256', 'ES256'],
      }));
      return;
    }
    if (req.url === '/jwks') {
      jwksRequests++;
      const list = [...keys.values()].filter((k) => published.has(k.kid)).map((k) => k.publicJwk);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: list }));
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    issuer: base,
    jwksUri: `${base}/jwks`,
    get jwksRequests() { return jwksRequests; },
    async addKey(kid, options = {}) {
      const alg = options.alg ?? 'RS256';
      const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
      const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
      keys.set(kid, { kid, alg, privateKey, publicJwk });
      if (options.publish !== false) published.add(kid);
    },
    publish(kid, on) {
      if (on) published.add(kid); else published.delete(kid);
    },
    async mint(claims, options = {}) {
      const key = options.kid ? keys.get(options.kid) : keys.values().next().value;
      if (!key) throw new Error('no such test key');
      return new SignJWT(claims)
        .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT', ...options.header })
        .setIssuer(typeof claims.iss === 'string' ? claims.iss : base)
        .setIssuedAt()
        .setExpirationTime(options.expiresIn ?? '10m')
        .sign(key.privateKey);
    },
    stop: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
