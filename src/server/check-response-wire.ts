/**
 * gRPC door, outbound, on the hot path: Decision → CheckResponse bytes
 * directly, with protobufjs's Writer.
 *
 * Rendering the Decision as an object (check-response.ts) and letting
 * proto-loader run fromObject + encode over it builds every message twice;
 * this writes the same fields in one pass. The bytes decode to exactly what
 * `checkResponseFor` describes (test/server/check-response-wire.test.ts), and
 * check-response.ts stays the readable statement of the mapping.
 *
 * Field numbers are Envoy's (envoy/service/auth/v3/external_auth.proto,
 * envoy/config/core/v3/base.proto, google/rpc/status.proto,
 * google/protobuf/struct.proto).
 */
import { LRUCache } from 'lru-cache';
import protobuf from 'protobufjs/minimal.js';
import type { Decision, HeaderPair } from '../core/decision.js';
import { APPEND_IF_EXISTS_OR_ADD, OVERWRITE_IF_EXISTS_OR_ADD, RPC_OK, rpcCodeFor } from './check-response.js';

type Writer = protobuf.Writer;

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

function writeHeaderOptions(w: Writer, fieldTag: number, pairs: readonly HeaderPair[], appendAction: number): void {
  for (const [key, value] of pairs) {
    w.uint32(fieldTag).fork();
    w.uint32(OPTION_HEADER).fork().uint32(HEADER_KEY).string(key).uint32(HEADER_VALUE).string(value).ldelim();
    w.uint32(OPTION_APPEND_ACTION).int32(appendAction);
    w.ldelim();
  }
}

function writeMetadata(w: Writer, metadata: Readonly<Record<string, string>>): void {
  w.uint32(RESPONSE_DYNAMIC_METADATA).fork();
  // Sorted, as check-response.ts renders it: the bytes of one decision are stable.
  for (const key of Object.keys(metadata).sort()) {
    w.uint32(STRUCT_FIELDS).fork();
    w.uint32(ENTRY_KEY).string(key);
    w.uint32(ENTRY_VALUE).fork().uint32(VALUE_STRING).string(metadata[key]!).ldelim();
    w.ldelim();
  }
  w.ldelim();
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
  // A copy of its own: the encoder's bytes are a slice of Buffer's shared 8 KB pool, and
  // keeping a slice would keep the whole pool chunk alive with it.
  const bytes = new Uint8Array(encode(decision));
  encodedAllows.set(decision.upstreamHeaders, { remove: decision.upstreamHeadersToRemove, metadata: decision.metadata, bytes });
  return bytes;
}

function encode(decision: Decision): Uint8Array {
  const w = protobuf.Writer.create();
  if (decision.allow) {
    w.uint32(RESPONSE_STATUS).fork().uint32(STATUS_CODE).int32(RPC_OK).ldelim();
    w.uint32(RESPONSE_OK).fork();
    // Overwrite, never append: a client-sent x-kestra-user must not survive next to ours.
    writeHeaderOptions(w, OK_HEADERS, decision.upstreamHeaders, OVERWRITE_IF_EXISTS_OR_ADD);
    for (const name of decision.upstreamHeadersToRemove) w.uint32(OK_HEADERS_TO_REMOVE).string(name);
    writeHeaderOptions(w, OK_RESPONSE_HEADERS_TO_ADD, decision.responseHeaders, APPEND_IF_EXISTS_OR_ADD);
    w.ldelim();
  } else {
    w.uint32(RESPONSE_STATUS).fork().uint32(STATUS_CODE).int32(rpcCodeFor(decision.status)).uint32(STATUS_MESSAGE).string(decision.reason).ldelim();
    w.uint32(RESPONSE_DENIED).fork();
    w.uint32(DENIED_STATUS).fork().uint32(HTTP_STATUS_CODE).int32(decision.status).ldelim();
    // Every value is added, so several Set-Cookie lines all reach the client.
    writeHeaderOptions(w, DENIED_HEADERS, decision.responseHeaders, APPEND_IF_EXISTS_OR_ADD);
    w.uint32(DENIED_BODY).string(decision.body);
    w.ldelim();
  }
  writeMetadata(w, decision.metadata);
  return w.finish();
}
