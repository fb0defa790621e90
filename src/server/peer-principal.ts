/**
 * gRPC door: the calling workload's principal from Envoy's source Peer.
 *
 * Envoy fills `source.principal` from the client certificate it verified
 * (the URI SAN, else the subject) and, when the listener is told to
 * (`include_peer_certificate`), `source.certificate` with that certificate as
 * URL-encoded PEM. The principal is used as given; only when it is empty is
 * the certificate read, for its one URI SAN (an X.509-SVID carries exactly
 * one: several would leave the identity ambiguous, so none is taken).
 * Both come from Envoy, which the gRPC door trusts — a client reaches them
 * only through a certificate the mesh's CA signed.
 */
import { X509Certificate } from 'node:crypto';

/** Certificates are few (one per calling workload) and parsing one costs far more than a lookup. */
const MAX_REMEMBERED = 256;
const uriSanByCertificate = new Map<string, string>();

/** The principal, or the URI SAN of `certificate` when the principal is empty; '' when neither gives one. */
export function peerPrincipalOf(principal: string, certificate: string): string {
  if (principal !== '' || certificate === '') return principal;
  const known = uriSanByCertificate.get(certificate);
  if (known !== undefined) return known;
  const san = uriSanOf(certificate);
  if (uriSanByCertificate.size >= MAX_REMEMBERED) uriSanByCertificate.delete(uriSanByCertificate.keys().next().value!);
  uriSanByCertificate.set(certificate, san);
  return san;
}

/** The single URI SAN of a (possibly URL-encoded) PEM certificate; '' for none, several, or a certificate that does not parse. */
export function uriSanOf(certificate: string): string {
  let pem: string;
  try {
    pem = certificate.includes('%') ? decodeURIComponent(certificate) : certificate;
  } catch {
    return '';
  }
  let alt: string | undefined;
  try {
    alt = new X509Certificate(pem).subjectAltName;
  } catch {
    return '';
  }
  if (!alt) return '';
  const uris = sanEntries(alt).filter((e) => e.startsWith('URI:')).map((e) => e.slice(4));
  return uris.length === 1 ? uris[0]! : '';
}

/**
 * Node's subjectAltName text: entries separated by ", ", a value holding a
 * comma, quote or control character written as a JSON string
 * (`URI:"spiffe://a/b, URI:spiffe://x"`). Quoted values are decoded, never
 * split, so text inside one cannot pose as an entry of its own.
 */
export function sanEntries(alt: string): string[] {
  const entries: string[] = [];
  let i = 0;
  while (i < alt.length) {
    const colon = alt.indexOf(':', i);
    if (colon === -1) break;
    const kind = alt.slice(i, colon + 1);
    let value: string;
    let next: number;
    if (alt[colon + 1] === '"') {
      // JSON string: ends at the first unescaped quote.
      let j = colon + 2;
      while (j < alt.length && alt[j] !== '"') j += alt[j] === '\\' ? 2 : 1;
      try {
        value = JSON.parse(alt.slice(colon + 1, j + 1)) as string;
      } catch {
        return [];
      }
      next = j + 1;
    } else {
      const comma = alt.indexOf(', ', colon + 1);
      next = comma === -1 ? alt.length : comma;
      value = alt.slice(colon + 1, next);
    }
    entries.push(kind + value);
    if (alt.startsWith(', ', next)) next += 2;
    i = next;
  }
  return entries;
}
