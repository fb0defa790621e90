/**
 * gRPC door, inbound, on the hot path: CheckRequest bytes → AuthRequest in
 * one pass, reading only the fields a decision uses.
 *
 * proto-loader's generic decode builds every message of the request (peers,
 * metadata, TLS session, timestamps) as objects and then copies them again in
 * toObject — about a third of a cached-token Check's CPU. This reader walks
 * the same wire format with protobufjs's Reader, keeps method, path, host,
 * scheme, id, headers (map or `header_map`), body, the source address and the
 * source peer's principal and certificate, and
 * skips everything else unread. For every valid encoding the result equals
 * `authRequestFromCheck` of proto-loader's decode
 * (test/server/check-wire-codec.test.ts proves it on Envoy-shaped and random
 * requests). Damaged frames may read differently: fields it does not use are
 * skipped, not validated, and a nested message sent twice is merged as the
 * protobuf spec says (protobufjs keeps the last) — never anything the
 * request did not carry (test/fuzz checks every allow against its credential).
 *
 * Field numbers are Envoy's (envoy/service/auth/v3/attribute_context.proto,
 * envoy/config/core/v3/{address,base}.proto in @grpc/grpc-js-xds).
 */
import protobuf from 'protobufjs/minimal.js';
import type { AuthRequest } from '../core/auth-request.js';
import { authRequestFromFields, emptyHeaderRecord, MAX_HEADER_MAP_ENTRIES, type CheckHttpFields } from './check-request.js';
import { HeaderNameCache } from './header-name-cache.js';

type Reader = protobuf.Reader;

const WIRE_LEN = 2;

/** tag = field number << 3 | wire type; only length-delimited fields are read here. */
const tagOf = (field: number) => (field << 3) | WIRE_LEN;

// CheckRequest
const CHECK_ATTRIBUTES = tagOf(1);
// AttributeContext
const ATTR_SOURCE = tagOf(1);
const ATTR_REQUEST = tagOf(4);
// AttributeContext.Peer → config.core.v3.Address → SocketAddress; Peer.principal, Peer.certificate
const PEER_ADDRESS = tagOf(1);
const PEER_PRINCIPAL = tagOf(4);
const PEER_CERTIFICATE = tagOf(5);
const ADDRESS_SOCKET_ADDRESS = tagOf(1);
const SOCKET_ADDRESS_ADDRESS = tagOf(2);
// AttributeContext.Request
const REQUEST_HTTP = tagOf(2);
// AttributeContext.HttpRequest
const HTTP_ID = tagOf(1);
const HTTP_METHOD = tagOf(2);
const HTTP_HEADERS = tagOf(3);
const HTTP_PATH = tagOf(4);
const HTTP_HOST = tagOf(5);
const HTTP_SCHEME = tagOf(6);
const HTTP_BODY = tagOf(11);
const HTTP_RAW_BODY = tagOf(12);
const HTTP_HEADER_MAP = tagOf(13);
// map<string,string> entry, config.core.v3.HeaderValue
const ENTRY_KEY = tagOf(1);
const ENTRY_VALUE = tagOf(2);
const HEADER_VALUE_RAW = tagOf(3);
// config.core.v3.HeaderMap
const HEADER_MAP_HEADERS = tagOf(1);

/** End offset of the length-delimited field whose length is next; refuses one that overruns its parent. */
function endOfField(r: Reader, parentEnd: number): number {
  const length = r.uint32();
  const end = r.pos + length;
  if (end > parentEnd) throw new RangeError('malformed CheckRequest: field overruns its message');
  return end;
}

/** Skips the field whose tag was just read (unknown and unused fields); protobufjs bounds-checks it. */
function skip(r: Reader, tag: number): void {
  r.skipType(tag & 7);
}

/** A message's fields must end exactly where its length said (a skipped field may not run past it). */
function expectEnd(r: Reader, end: number): void {
  if (r.pos !== end) throw new RangeError('malformed CheckRequest: field overruns its message');
}

/**
 * The length-delimited string whose tag was just read. Strict where
 * protobufjs's own reader would silently truncate: a string running past its
 * message is malformed input.
 */
function stringAt(r: Reader, end: number): string {
  const stop = endOfField(r, end);
  const text = utf8(r.buf as Buffer, r.pos, stop);
  r.pos = stop;
  return text;
}

/**
 * UTF-8 bytes → string with Buffer's own decoder (utf8Slice, the method
 * Buffer#toString ends in, called directly as protobufjs does — with
 * toString as the fallback), for every string, short ones included. A
 * CheckRequest is mostly short ASCII header names and values; building those
 * in JS a character at a time was slower than the native call and left
 * ~280 bytes of intermediate strings per string (one per `+=`), several KB
 * per Check for the scavenger (bench/README.md, 2026-12-07).
 */
function utf8(buf: Buffer, start: number, stop: number): string {
  if (start === stop) return '';
  return nativeUtf8Slice ? nativeUtf8Slice.call(buf, start, stop) : buf.toString('utf8', start, stop);
}

const nativeUtf8Slice = (Buffer.prototype as { utf8Slice?: (this: Buffer, start: number, end: number) => string }).utf8Slice;

/** Bytes field whose tag was just read, as a view (no copy). */
function bytesAt(r: Reader, end: number): Uint8Array {
  const stop = endOfField(r, end);
  const view = r.buf.subarray(r.pos, stop);
  r.pos = stop;
  return view;
}

function readSocketAddress(r: Reader, end: number): string {
  let address = '';
  while (r.pos < end) {
    const t = r.uint32();
    if (t !== ADDRESS_SOCKET_ADDRESS) { skip(r, t); continue; }
    const socketEnd = endOfField(r, end);
    while (r.pos < socketEnd) {
      const s = r.uint32();
      if (s === SOCKET_ADDRESS_ADDRESS) address = stringAt(r, socketEnd);
      else skip(r, s);
    }
    expectEnd(r, socketEnd);
  }
  expectEnd(r, end);
  return address;
}

/**
 * The source Peer: its address, and the principal and certificate Envoy
 * took from the verified client certificate (mTLS). A Peer sent twice: the
 * last one counts whole, as protobufjs (and so proto-loader's decode) reads it.
 */
function readSource(r: Reader, end: number, fields: CheckHttpFields): void {
  fields.sourceAddress = '';
  fields.sourcePrincipal = '';
  fields.sourceCertificate = '';
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag === PEER_ADDRESS) fields.sourceAddress = readSocketAddress(r, endOfField(r, end));
    else if (tag === PEER_PRINCIPAL) fields.sourcePrincipal = stringAt(r, end);
    else if (tag === PEER_CERTIFICATE) fields.sourceCertificate = stringAt(r, end);
    else skip(r, tag);
  }
  expectEnd(r, end);
}

/** Whether bytes hold anything toLowerCase could change (A–Z or non-ASCII). */
function mayHaveUpperCase(buf: Buffer, start: number, stop: number): boolean {
  for (let i = start; i < stop; i++) {
    const b = buf[i]!;
    if ((b >= 0x41 && b <= 0x5a) || b > 0x7f) return true;
  }
  return false;
}

/** Interned header names, shared by every request this process decodes. */
const headerNames = new HeaderNameCache((buf, start, stop) => utf8(buf as Buffer, start, stop));

/** The header name whose tag was just read; notes in `fields` if it may need lower-casing. */
function headerNameAt(r: Reader, end: number, fields: CheckHttpFields): string {
  const stop = endOfField(r, end);
  const buf = r.buf as Buffer;
  const start = r.pos;
  r.pos = stop;
  if (!fields.mayHaveUpperCaseNames && mayHaveUpperCase(buf, start, stop)) fields.mayHaveUpperCaseNames = true;
  return headerNames.nameAt(buf, start, stop);
}

/** One map<string,string> entry (last occurrence of a key wins, as protobuf maps do). */
function readMapEntry(r: Reader, end: number, fields: CheckHttpFields): void {
  let key = '';
  let value = '';
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag === ENTRY_KEY) key = headerNameAt(r, end, fields);
    else if (tag === ENTRY_VALUE) value = stringAt(r, end);
    else skip(r, tag);
  }
  expectEnd(r, end);
  fields.headers[key] = value;
  fields.headerCount++;
}

/** One config.core.v3.HeaderValue of `header_map` (Envoy's encode_raw_headers). */
function readHeaderValue(r: Reader, end: number, fields: CheckHttpFields): void {
  let key = '';
  let value = '';
  let raw: Uint8Array | undefined;
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag === ENTRY_KEY) key = stringAt(r, end);
    else if (tag === ENTRY_VALUE) value = stringAt(r, end);
    else if (tag === HEADER_VALUE_RAW) raw = bytesAt(r, end);
    else skip(r, tag);
  }
  expectEnd(r, end);
  if (fields.headerList.length < MAX_HEADER_MAP_ENTRIES) fields.headerList.push({ key, value, raw_value: raw });
}

function readHeaderMap(r: Reader, end: number, fields: CheckHttpFields): void {
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag === HEADER_MAP_HEADERS) readHeaderValue(r, endOfField(r, end), fields);
    else skip(r, tag);
  }
  expectEnd(r, end);
}

function readHttp(r: Reader, end: number, fields: CheckHttpFields): void {
  fields.present = true;
  while (r.pos < end) {
    const tag = r.uint32();
    switch (tag) {
      case HTTP_ID: fields.id = stringAt(r, end); break;
      case HTTP_METHOD: fields.method = stringAt(r, end); break;
      case HTTP_HEADERS: readMapEntry(r, endOfField(r, end), fields); break;
      case HTTP_PATH: fields.path = stringAt(r, end); break;
      case HTTP_HOST: fields.host = stringAt(r, end); break;
      case HTTP_SCHEME: fields.scheme = stringAt(r, end); break;
      case HTTP_BODY: fields.body = stringAt(r, end); break;
      case HTTP_RAW_BODY: fields.rawBody = bytesAt(r, end); break;
      case HTTP_HEADER_MAP: readHeaderMap(r, endOfField(r, end), fields); break;
      default: skip(r, tag);
    }
  }
  expectEnd(r, end);
}

function readRequest(r: Reader, end: number, fields: CheckHttpFields): void {
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag === REQUEST_HTTP) readHttp(r, endOfField(r, end), fields);
    else skip(r, tag);
  }
  expectEnd(r, end);
}

function readAttributes(r: Reader, end: number, fields: CheckHttpFields): void {
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag === ATTR_SOURCE) readSource(r, endOfField(r, end), fields);
    else if (tag === ATTR_REQUEST) readRequest(r, endOfField(r, end), fields);
    else skip(r, tag);
  }
  expectEnd(r, end);
}

/**
 * Decodes a serialized CheckRequest. Throws on bytes that are not a valid
 * encoding (grpc-js then answers the call with an error status, which Envoy
 * treats as a failed check); null when the request has no usable HTTP
 * attributes, as authRequestFromCheck.
 */
export function authRequestFromCheckBytes(bytes: Uint8Array): AuthRequest | null {
  // A Buffer view, so strings decode with Buffer's native UTF-8 (grpc-js already hands us a Buffer).
  const r = protobuf.Reader.create(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  const fields = emptyFields();
  while (r.pos < r.len) {
    const tag = r.uint32();
    if (tag === CHECK_ATTRIBUTES) readAttributes(r, endOfField(r, r.len), fields);
    else skip(r, tag);
  }
  expectEnd(r, r.len);
  return authRequestFromFields(fields);
}

function emptyFields(): CheckHttpFields {
  return {
    present: false,
    id: '',
    method: '',
    path: '',
    host: '',
    scheme: '',
    body: '',
    rawBody: undefined,
    headers: emptyHeaderRecord(),
    headerCount: 0,
    mayHaveUpperCaseNames: false,
    headerList: [],
    sourceAddress: '',
    sourcePrincipal: '',
    sourceCertificate: '',
  };
}
