/**
 * HTTP door: the calling workload's principal from Envoy's
 * `x-forwarded-client-cert` (XFCC) header — read only when the operator named
 * the header (`authz.http.client-cert-header`), because only a proxy that
 * sets it itself (Envoy's `forward_client_cert_details: SANITIZE_SET`) makes
 * its value mean anything: otherwise it is whatever the client wrote.
 *
 * Format (Envoy's docs, "x-forwarded-client-cert"): elements separated by
 * `,`, each a `;`-separated list of `Key=Value` (By, Hash, Cert, Chain,
 * Subject, URI, DNS), a value possibly double-quoted with `\"` escapes (a
 * Subject holds commas). Each proxy that forwards the header with
 * APPEND_FORWARD adds its own element at the END; SANITIZE_SET replaces the
 * header with its element alone. So the LAST element is the one written by
 * the proxy that terminated the caller's TLS connection — the one in front of
 * us; earlier elements were written by hops (or a client) we cannot vouch
 * for. Its `URI` is the peer's SPIFFE id. An element naming two URIs, or a
 * header that does not parse, gives no principal (never a guess).
 */

/** The URI of the last element, '' when there is none, it is ambiguous, or the header does not parse. */
export function principalFromClientCertHeader(value: string): string {
  const elements = splitOutsideQuotes(value, ',');
  if (elements === undefined || elements.length === 0) return '';
  const last = elements[elements.length - 1]!;
  const pairs = splitOutsideQuotes(last, ';');
  if (pairs === undefined) return '';
  let uri: string | undefined;
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    if (pair.slice(0, eq).trim().toLowerCase() !== 'uri') continue;
    if (uri !== undefined) return '';
    const decoded = unquoted(pair.slice(eq + 1).trim());
    if (decoded === undefined) return '';
    uri = decoded;
  }
  return uri ?? '';
}

/** `text` split at `separator` outside double quotes; undefined when a quote is left open. */
function splitOutsideQuotes(text: string, separator: string): string[] | undefined {
  const parts: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted && c === '\\') { i++; continue; }
    if (c === '"') quoted = !quoted;
    else if (!quoted && c === separator) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  if (quoted) return undefined;
  parts.push(text.slice(start));
  return parts.map((p) => p.trim()).filter((p) => p !== '');
}

/** A value as written, or the inside of a quoted one with `\x` escapes resolved. */
function unquoted(value: string): string | undefined {
  if (!value.startsWith('"')) return value;
  if (value.length < 2 || !value.endsWith('"')) return undefined;
  return value.slice(1, -1).replace(/\\(.)/g, '$1');
}
