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
import { isUtf8 } from 'node:buffer';

export interface UntrustedJwt {
  readonly header: Readonly<Record<string, unknown>>;
  readonly claims: Readonly<Record<string, unknown>>;
  /**
   * Both segments decoded to valid UTF-8: then the header is what jose's
   * strict decoder reads too, and the verifier may reuse it (jws-verify.ts,
   * PreRead) instead of decoding the token again.
   */
  readonly utf8: boolean;
}

/** A JSON object from one base64url segment (and whether its bytes are valid UTF-8), or undefined when it is not one. */
function jsonObjectOf(segment: string): { value: Record<string, unknown>; utf8: boolean } | undefined {
  let value: unknown;
  let utf8: boolean;
  try {
    const bytes = Buffer.from(segment, 'base64url');
    utf8 = isUtf8(bytes);
    value = JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? { value: value as Record<string, unknown>, utf8 } : undefined;
}

/** Header and claims of `token`, or undefined when either is not base64url-encoded JSON object text. */
export function readUntrustedJwt(token: string): UntrustedJwt | undefined {
  const headerEnd = token.indexOf('.');
  const claimsEnd = token.indexOf('.', headerEnd + 1);
  if (headerEnd <= 0 || claimsEnd <= headerEnd + 1) return undefined;
  const header = jsonObjectOf(token.slice(0, headerEnd));
  if (!header) return undefined;
  const claims = jsonObjectOf(token.slice(headerEnd + 1, claimsEnd));
  return claims ? { header: header.value, claims: claims.value, utf8: header.utf8 && claims.utf8 } : undefined;
}
