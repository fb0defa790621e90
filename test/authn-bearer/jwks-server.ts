/**
 * A real issuer for the bearer tests: node:http on port 0 serving OIDC
 * discovery and a JWKS of keys the test generated, counting requests per
 * path, with knobs to misbehave (wrong discovery issuer, raw bodies, status
 * codes, silence) and `stop()` to model an unreachable IdP.
 */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import type { Defer } from '../helpers/cleanup-after-each.js';

export interface TestKey {
  readonly kid: string;
  readonly alg: string;
  readonly privateKey: CryptoKey;
  readonly publicKey: CryptoKey;
  readonly publicJwk: JWK;
}

export interface JwksServer {
  readonly issuer: string;
  readonly jwksUri: string;
  readonly requests: { discovery: number; jwks: number };
  addKey(kid: string, alg?: 'RS256' | 'ES256' | 'PS256', options?: { publish?: boolean; jwkAlg?: boolean }): Promise<TestKey>;
  key(kid: string): TestKey;
  publish(kid: string, on: boolean): void;
  /** Extra raw JWK members appended to the served set. */
  extraJwks: JWK[];
  /** Overrides: discovery `issuer`, a raw JWKS body, a JWKS status, or no answer at all. */
  discoveryIssuer: string | undefined;
  jwksBody: string | undefined;
  jwksStatus: number;
  silent: boolean;
  /** Signs `claims` as-is (no defaults added) with a held key. */
  sign(claims: JWTPayload, kid: string, header?: Record<string, unknown>): Promise<string>;
  stop(): Promise<void>;
}

export async function startJwksServer(): Promise<JwksServer> {
  const keys = new Map<string, TestKey>();
  const published = new Set<string>();
  const hanging = new Set<ServerResponse>();
  let base = '';

  const state: JwksServer = {
    issuer: '',
    jwksUri: '',
    requests: { discovery: 0, jwks: 0 },
    extraJwks: [],
    discoveryIssuer: undefined,
    jwksBody: undefined,
    jwksStatus: 200,
    silent: false,
    async addKey(kid, alg = 'RS256', options = {}) {
      const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
      const jwk: JWK = { ...(await exportJWK(publicKey)), kid, use: 'sig' };
      if (options.jwkAlg !== false) jwk.alg = alg;
      const key: TestKey = { kid, alg, privateKey, publicKey, publicJwk: jwk };
      keys.set(kid, key);
      if (options.publish !== false) published.add(kid);
      return key;
    },
    key(kid) {
      const key = keys.get(kid);
      if (!key) throw new Error(`no test key ${kid}`);
      return key;
    },
    publish(kid, on) {
      if (on) published.add(kid); else published.delete(kid);
    },
    sign(claims, kid, header = {}) {
      const key = state.key(kid);
      return new SignJWT(claims).setProtectedHeader({ alg: key.alg, kid, typ: 'JWT', ...header }).sign(key.privateKey);
    },
    stop: () => new Promise<void>((resolve) => {
      for (const res of hanging) res.destroy();
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };

  const server = createServer((req, res) => {
    if (req.url === '/.well-known/openid-configuration') {
      state.requests.discovery++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({
        issuer: state.discoveryIssuer ?? base,
        jwks_uri: `${base}/jwks`,
        response_types_supported: ['code'],
      }));
      return;
    }
    if (req.url === '/jwks') {
      state.requests.jwks++;
      if (state.silent) {
        hanging.add(res);
        return;
      }
      const body = state.jwksBody ?? JSON.stringify({
        keys: [...[...keys.values()].filter((k) => published.has(k.kid)).map((k) => k.publicJwk), ...state.extraJwks],
      });
      res.writeHead(state.jwksStatus, { 'content-type': 'application/json' }).end(body);
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  Object.assign(state, { issuer: base, jwksUri: `${base}/jwks` });
  return state;
}

/** A URL nobody listens on: a server is started on port 0 and closed again. */
export async function unreachableUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

/** A settable clock for the `now` options (ms). */
export function fakeClock(start = 1_800_000_000_000): { now: () => number; advance(ms: number): void; seconds(): number } {
  let t = start;
  return { now: () => t, advance: (ms) => { t += ms; }, seconds: () => Math.floor(t / 1000) };
}

/** A JwksServer stopped by `defer` (see cleanupAfterEach) after the test that started it. */
export async function startJwksServerFor(defer: Defer): Promise<JwksServer> {
  const server = await startJwksServer();
  defer(() => server.stop());
  return server;
}
