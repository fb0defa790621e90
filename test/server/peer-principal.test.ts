/**
 * Where a door finds the calling workload's SPIFFE id: Envoy's
 * `source.principal`, else the one URI SAN of `source.certificate` (real
 * certificates, parsed by node:crypto); on the HTTP door only the configured
 * XFCC header, its LAST element.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { peerPrincipalOf, sanEntries, uriSanOf } from '../../src/server/peer-principal.js';
import { principalFromClientCertHeader } from '../../src/server/client-cert-header.js';

const fixture = (name: string) => readFileSync(join(process.cwd(), 'test/fixtures/tls', name), 'utf8');
const WORKER = 'spiffe://cluster.local/ns/kestra/sa/worker';

test('the principal Envoy sends wins; the certificate is read only without one', () => {
  const cert = encodeURIComponent(fixture('spiffe-worker.pem'));
  assert.equal(peerPrincipalOf('spiffe://cluster.local/ns/other/sa/x', cert), 'spiffe://cluster.local/ns/other/sa/x');
  assert.equal(peerPrincipalOf('', cert), WORKER);
  assert.equal(peerPrincipalOf('', ''), '');
});

test('the URI SAN of a certificate: URL-encoded or plain PEM; none, two or garbage give none', () => {
  assert.equal(uriSanOf(encodeURIComponent(fixture('spiffe-worker.pem'))), WORKER);
  assert.equal(uriSanOf(fixture('spiffe-worker.pem')), WORKER);
  assert.equal(uriSanOf(fixture('spiffe-two-uris.pem')), '', 'two URI SANs are ambiguous');
  assert.equal(uriSanOf(fixture('no-uri.pem')), '');
  assert.equal(uriSanOf('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'), '');
  assert.equal(uriSanOf('%E0%A4%A'), '', 'a broken URL encoding');
});

test("Node's subjectAltName text: a quoted value is one entry, never split into forged ones", () => {
  assert.deepEqual(sanEntries('URI:spiffe://a/b, DNS:x.y'), ['URI:spiffe://a/b', 'DNS:x.y']);
  assert.deepEqual(sanEntries('DNS:"x, URI:spiffe://evil/sa/admin", DNS:y'), ['DNS:x, URI:spiffe://evil/sa/admin', 'DNS:y']);
});

test('XFCC: the URI of the last element (the one the proxy in front of us appended)', () => {
  const table: [header: string, principal: string][] = [
    [`By=spiffe://cluster.local/ns/kestra/sa/kestra-authz;Hash=abc;URI=${WORKER}`, WORKER],
    // a client-forged element first, the proxy's own last
    [`URI=spiffe://cluster.local/ns/kestra/sa/admin,By=spiffe://x/y;Hash=1;URI=${WORKER}`, WORKER],
    // the last element has no URI: nothing (an earlier one is never taken instead)
    [`URI=${WORKER},Hash=abc;DNS=worker.svc`, ''],
    // quoted Subject with commas and semicolons stays inside its element
    [`Hash=1;Subject="CN=a,O=b;c";URI=${WORKER}`, WORKER],
    [`Hash=1;URI="${WORKER}"`, WORKER],
    // two URIs in the proxy's element: ambiguous
    [`Hash=1;URI=${WORKER};URI=spiffe://cluster.local/ns/kestra/sa/admin`, ''],
    // an open quote: does not parse
    [`Subject="CN=a;URI=${WORKER}`, ''],
    ['', ''],
  ];
  for (const [header, principal] of table) assert.equal(principalFromClientCertHeader(header), principal, header);
});
