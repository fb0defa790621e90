/**
 * `GET /.well-known/jwks.json` on the HTTP door and the management port: the
 * public keys of the identity token (key-ring.ts), with cache headers so
 * verifiers (Istio, jose's createRemoteJWKSet, mod_auth_openidc) need not
 * ask on every token. 404 while the token is off. With `serve --workers N`
 * the management port's is the primary's (server/group-identity-keys.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { JWKS_MAX_AGE_SECONDS, type IdentityKeyRing } from './key-ring.js';

export const JWKS_PATH = '/.well-known/jwks.json';

/** True when `req` asks for the JWKS (path without query); such a request is answered here whatever the token's state. */
export function isJwksRequest(req: IncomingMessage): boolean {
  const url = req.url ?? '';
  const q = url.indexOf('?');
  return (q === -1 ? url : url.slice(0, q)) === JWKS_PATH;
}

/** Writes the JWKS (GET/HEAD), 405 for another method, 404 when `ring` is undefined (the token is off). */
export function writeJwks(req: IncomingMessage, res: ServerResponse, ring: IdentityKeyRing | undefined): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD', 'content-length': 0 }).end();
    return;
  }
  if (ring === undefined) {
    const body = '{"error":"not_found","message":"the identity token is not enabled (authz.identity-token.enabled)"}';
    res.writeHead(404, { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) }).end(body);
    return;
  }
  const { body } = ring.jwks();
  res.writeHead(200, {
    'content-type': 'application/json',
    'cache-control': `public, max-age=${JWKS_MAX_AGE_SECONDS}`,
    'content-length': Buffer.byteLength(body),
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}
