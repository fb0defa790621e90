/**
 * gRPC door, outbound, on the hot path: Decision → CheckResponse bytes
 * directly, in one pass over a reused scratch buffer.
 *
 * Rendering the Decision as an object (check-response.ts) and letting
 * proto-loader run fromObject + encode over it builds every message twice;
 * protobufjs's Writer, used here before, still allocates an operation object
 * per field and a state per nested message (~8.5 µs for an allow with four
 * identity headers). This writes the bytes in place: a nested message or
 * string gets a one-byte length slot, and the rare one of 128 bytes or more
 * is moved up to make room for a longer varint. The bytes are the ones
 * protobufjs wrote and decode to exactly what `checkResponseFor` describes
 * (test/server/check-wire-codec.test.ts), and check-response.ts stays the
 * readable statement of the mapping.
 *
 * Field numbers are Envoy's (envoy/service/auth/v3/external_auth.proto,
 * envoy/config/core/v3/base.proto, google/rpc/status.proto,
 * google/protobuf/struct.proto).
 */
import { LRUCache } from 'lru-cache';
import type { Decision, HeaderPair } from '../core/decision.js';
import { APPEND_IF_EXISTS_OR_ADD, OVERWRITE_IF_EXISTS_OR_ADD, RPC_OK, rpcCodeFor } from './check-response.js';

const WIRE_VARINT = 0;
const WIRE_LEN = 2;
const tag = (field: number, wire: number) => (field << 3) | wire;

// CheckResponse
const RESPONSE_STATUS = tag(1, WIRE_LEN);
const RESPONSE_DENIED = tag(2, WIRE_LEN);
const RESPONSE_OK = tag(3, WIRE_LEN);
const RESPONSE_DYNAMIC_METADATA = tag(4, WIRE_LEN);
// google.rpc.Status
const STATUS_CODE = tag(1, WIRE_VARINT);
const STATUS_MESSAGE = tag(2, WIRE_LEN);
// DeniedHttpResponse
const DENIED_STATUS = tag(1, WIRE_LEN);
const DENIED_HEADERS = tag(2, WIRE_LEN);
const DENIED_BODY = tag(3, WIRE_LEN);
// envoy.type.v3.HttpStatus
const HTTP_STATUS_CODE = tag(1, WIRE_VARINT);
// OkHttpResponse
const OK_HEADERS = tag(2, WIRE_LEN);
const OK_HEADERS_TO_REMOVE = tag(5, WIRE_LEN);
const OK_RESPONSE_HEADERS_TO_ADD = tag(6, WIRE_LEN);
// config.core.v3.HeaderValueOption / HeaderValue
const OPTION_HEADER = tag(1, WIRE_LEN);
const OPTION_APPEND_ACTION = tag(3, WIRE_VARINT);
const HEADER_KEY = tag(1, WIRE_LEN);
const HEADER_VALUE = tag(2, WIRE_LEN);
// google.protobuf.Struct / map entry / Value
const STRUCT_FIELDS = tag(1, WIRE_LEN);
const ENTRY_KEY = tag(1, WIRE_LEN);
const ENTRY_VALUE = tag(2, WIRE_LEN);
const VALUE_STRING = tag(3, WIRE_LEN);

/**
 * The scratch buffer every answer is written into, then copied out: one
 * allocation per answer, of its exact size. It grows (doubling) for a large
 * answer and stays grown; answers are a few hundred bytes.
 */
let scratch = Buffer.allocUnsafeSlow(4096);
let pos = 0;

function ensure(extra: number): void {
  if (pos + extra <= scratch.length) return;
  let size = scratch.length * 2;
  while (size < pos + extra) size *= 2;
  const grown = Buffer.allocUnsafeSlow(size);
  scratch.copy(grown, 0, 0, pos);
  scratch = grown;
}

/** A non-negative integer below 2^32 as a varint (every value written here: tags, lengths, codes, enums). */
function varint(value: number): void {
  ensure(5);
  while (value > 0x7f) {
    scratch[pos++] = (value & 0x7f) | 0x80;
    value >>>= 7;
  }
  scratch[pos++] = value;
}

function varintSize(value: number): number {
  return value < 0x80 ? 1 : value < 0x4000 ? 2 : value < 0x200000 ? 3 : value < 0x10000000 ? 4 : 5;
}

/** Starts a length-delimited field: its tag and a one-byte length slot; returns where the content starts. */
function open(fieldTag: number): number {
  varint(fieldTag);
  ensure(1);
  pos++;
  return pos;
}

/** Ends a length-delimited field opened at `start`: writes its length, moving the content up if it needs more than one byte. */
function close(start: number): void {
  const length = pos - start;
  const size = varintSize(length);
  if (size > 1) {
    ensure(size - 1);
    scratch.copyWithin(start + size - 1, start, pos);
    pos += size - 1;
  }
  let at = start - 1;
  let value = length;
  while (value > 0x7f) {
    scratch[at++] = (value & 0x7f) | 0x80;
    value >>>= 7;
  }
  scratch[at] = value;
}

/** Short ASCII strings are copied in JS: a native UTF-8 write per header name costs more than the loop. */
const SHORT_STRING = 32;

function string(fieldTag: number, value: string): void {
  const start = open(fieldTag);
  ensure(value.length * 3);
  const length = value.length;
  let ascii = length <= SHORT_STRING;
  if (ascii) {
    for (let i = 0; i < length; i++) {
      const code = value.charCodeAt(i);
      if (code > 0x7f) { ascii = false; break; }
      scratch[pos + i] = code;
    }
  }
  pos += ascii ? length : scratch.write(value, pos, 'utf8');
  close(start);
}

function headerOptions(fieldTag: number, pairs: readonly HeaderPair[], appendAction: number): void {
  for (const [key, value] of pairs) {
    const option = open(fieldTag);
    const header = open(OPTION_HEADER);
    string(HEADER_KEY, key);
    string(HEADER_VALUE, value);
    close(header);
    varint(OPTION_APPEND_ACTION);
    varint(appendAction);
    close(option);
  }
}

function metadataField(metadata: Readonly<Record<string, string>>): void {
  const struct = open(RESPONSE_DYNAMIC_METADATA);
  // Sorted, as check-response.ts renders it: the bytes of one decision are stable.
  for (const key of Object.keys(metadata).sort()) {
    const entry = open(STRUCT_FIELDS);
    string(ENTRY_KEY, key);
    const value = open(ENTRY_VALUE);
    string(VALUE_STRING, metadata[key]!);
    close(value);
    close(entry);
  }
  close(struct);
}

/** An encoded allow, valid for the exact `upstreamHeadersToRemove` and `metadata` objects it was made from. */
interface EncodedAllow {
  readonly remove: readonly string[];
  readonly metadata: Readonly<Record<string, string>>;
  readonly bytes: Uint8Array;
}

/**
 * Encoded allows by their (frozen, remembered) upstream header list: the
 * respond stage hands the same objects to every request of one cached
 * identity on one rule (AllowPartsMemo), so the bytes are the same too.
 * Bounded like that memo, least recently used first out.
 */
const encodedAllows = new LRUCache<readonly HeaderPair[], EncodedAllow>({ max: 4096 });

/** The serialized CheckResponse for a Decision. */
export function encodeCheckResponse(decision: Decision): Uint8Array {
  if (!decision.allow || decision.responseHeaders.length !== 0 || !Object.isFrozen(decision.upstreamHeaders)) return encode(decision);
  const known = encodedAllows.get(decision.upstreamHeaders);
  if (known && known.remove === decision.upstreamHeadersToRemove && known.metadata === decision.metadata) return known.bytes;
  // Memory of its own: a slice of Buffer's shared 8 KB pool, kept in the memo, would keep
  // the whole pool chunk alive with it.
  const bytes = encode(decision, true);
  encodedAllows.set(decision.upstreamHeaders, { remove: decision.upstreamHeadersToRemove, metadata: decision.metadata, bytes });
  return bytes;
}

/**
 * The answer's bytes, copied out of the scratch buffer (reused by the next
 * answer). `remembered`: the bytes will be kept in the memo, so they get
 * memory of their own rather than a slice of Buffer's pool.
 */
function encode(decision: Decision, remembered = false): Uint8Array {
  pos = 0;
  if (decision.allow) {
    const status = open(RESPONSE_STATUS);
    varint(STATUS_CODE);
    varint(RPC_OK);
    close(status);
    const ok = open(RESPONSE_OK);
    // Overwrite, never append: a client-sent x-kestra-user must not survive next to ours.
    headerOptions(OK_HEADERS, decision.upstreamHeaders, OVERWRITE_IF_EXISTS_OR_ADD);
    for (const name of decision.upstreamHeadersToRemove) string(OK_HEADERS_TO_REMOVE, name);
    headerOptions(OK_RESPONSE_HEADERS_TO_ADD, decision.responseHeaders, APPEND_IF_EXISTS_OR_ADD);
    close(ok);
  } else {
    const status = open(RESPONSE_STATUS);
    varint(STATUS_CODE);
    varint(rpcCodeFor(decision.status));
    string(STATUS_MESSAGE, decision.reason);
    close(status);
    const denied = open(RESPONSE_DENIED);
    const httpStatus = open(DENIED_STATUS);
    varint(HTTP_STATUS_CODE);
    varint(decision.status);
    close(httpStatus);
    // Every value is added, so several Set-Cookie lines all reach the client.
    headerOptions(DENIED_HEADERS, decision.responseHeaders, APPEND_IF_EXISTS_OR_ADD);
    string(DENIED_BODY, decision.body);
    close(denied);
  }
  metadataField(decision.metadata);
  const out = remembered ? Buffer.allocUnsafeSlow(pos) : Buffer.allocUnsafe(pos);
  scratch.copy(out, 0, 0, pos);
  return out;
}
