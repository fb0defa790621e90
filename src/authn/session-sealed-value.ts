/**
 * Encrypted cookie values: compact JWE, `dir` + A256GCM (an AEAD — never CBC,
 * see Envoy's oauth2-filter padding-oracle CVE). Used for the refresh-token
 * cookie and the per-login state cookies: their content must be neither read
 * nor changed by the browser.
 */
import { CompactEncrypt, compactDecrypt } from 'jose';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A sealed value longer than this is never opened (cookies are < 4 KB each). */
const MAX_SEALED_LENGTH = 8192;

export async function sealValue(key: Uint8Array, purpose: string, payload: Readonly<Record<string, unknown>>): Promise<string> {
  return new CompactEncrypt(encoder.encode(JSON.stringify(payload)))
    // `cty` names the purpose and is authenticated (protected header): a
    // refresh cookie cannot be replayed as a state cookie even under one key.
    .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', cty: purpose })
    .encrypt(key);
}

/** The payload, or undefined when the value is garbled, tampered with, sealed under another key or for another purpose. */
export async function openValue(key: Uint8Array, purpose: string, sealed: string): Promise<Record<string, unknown> | undefined> {
  if (sealed.length > MAX_SEALED_LENGTH) return undefined;
  try {
    const { plaintext, protectedHeader } = await compactDecrypt(sealed, key, {
      keyManagementAlgorithms: ['dir'],
      contentEncryptionAlgorithms: ['A256GCM'],
    });
    if (protectedHeader.cty !== purpose) return undefined;
    const value: unknown = JSON.parse(decoder.decode(plaintext));
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
