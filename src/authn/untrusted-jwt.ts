/**
 * The header and claims of a compact JWS, read WITHOUT any verification: only
 * to pick the issuer and its key before jose verifies the token, which decodes
 * and checks both again. Nothing read here is trusted or returned to a caller
 * as an identity.
 *
 * Why not jose's decodeProtectedHeader / decodeJwt: their portable base64url
 * decoder (atob and a byte loop) cost ~6 µs per token that misses the cache,
 * Node's native decoder ~3 µs for both parts (bench/README.md, "unique
 * tokens"). The result is the same: a segment that is not base64url of a JSON
 * object is refused as malformed — and jose refuses anything this lets through
 * that it would not accept itself.
 *
 * The caller checks the shape first: three parts made of base64url characters.
 */

export interface UntrustedJwt {
  readonly header: Readonly<Record<string, unknown>>;
  readonly claims: Readonly<Record<string, unknown>>;
}

/** A JSON object from one base64url segment, or undefined when it is not one. */
function jsonObjectOf(segment: string): Record<string, unknown> | undefined {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? value as Record<string, unknown> : undefined;
}

/** Header and claims of `token`, or undefined when either is not base64url-encoded JSON object text. */
export function readUntrustedJwt(token: string): UntrustedJwt | undefined {
  const headerEnd = token.indexOf('.');
  const claimsEnd = token.indexOf('.', headerEnd + 1);
  if (headerEnd <= 0 || claimsEnd <= headerEnd + 1) return undefined;
  const header = jsonObjectOf(token.slice(0, headerEnd));
  if (!header) return undefined;
  const claims = jsonObjectOf(token.slice(headerEnd + 1, claimsEnd));
  return claims ? { header, claims } : undefined;
}
