/**
 * The few pieces of HTTP/2 (RFC 9113), HPACK (RFC 7541) and protobuf that
 * the raw gRPC load generator needs, written for a client that sends one
 * request shape over and over:
 * - frame headers written into caller-owned buffers (no allocation);
 * - the request header block encoded ONCE as HPACK literals "without
 *   indexing", without Huffman: such a block does not touch either side's
 *   dynamic table, so the same bytes are valid for every stream;
 * - a CheckResponse reader that pulls out only `status.code` and
 *   `denied_response.status.code`.
 */

export const CLIENT_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
export const FRAME_HEADER_BYTES = 9;

export const FrameType = {
  DATA: 0x0,
  HEADERS: 0x1,
  PRIORITY: 0x2,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  PUSH_PROMISE: 0x5,
  PING: 0x6,
  GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8,
  CONTINUATION: 0x9,
} as const;

export const Flags = {
  END_STREAM: 0x1,
  ACK: 0x1,
  END_HEADERS: 0x4,
  PADDED: 0x8,
  PRIORITY: 0x20,
} as const;

export const Setting = {
  HEADER_TABLE_SIZE: 0x1,
  ENABLE_PUSH: 0x2,
  MAX_CONCURRENT_STREAMS: 0x3,
  INITIAL_WINDOW_SIZE: 0x4,
  MAX_FRAME_SIZE: 0x5,
} as const;

/** Largest flow-control window and largest stream id HTTP/2 allows. */
export const MAX_WINDOW = 2 ** 31 - 1;
export const MAX_STREAM_ID = 2 ** 31 - 1;
/** The window every stream and the connection start with before SETTINGS/WINDOW_UPDATE. */
export const DEFAULT_WINDOW = 65_535;
export const DEFAULT_MAX_FRAME_SIZE = 16_384;

export function writeFrameHeader(buf: Buffer, at: number, length: number, type: number, flags: number, streamId: number): void {
  buf[at] = (length >>> 16) & 0xff;
  buf[at + 1] = (length >>> 8) & 0xff;
  buf[at + 2] = length & 0xff;
  buf[at + 3] = type;
  buf[at + 4] = flags;
  buf.writeUInt32BE(streamId & 0x7fffffff, at + 5);
}

/** HPACK integer with an N-bit prefix (RFC 7541 §5.1); `first` carries the bits above the prefix. */
function hpackInteger(value: number, prefixBits: number, first: number): number[] {
  const max = (1 << prefixBits) - 1;
  if (value < max) return [first | value];
  const out = [first | max];
  let rest = value - max;
  while (rest >= 128) {
    out.push((rest & 0x7f) | 0x80);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
  return out;
}

function hpackString(text: string): number[] {
  const bytes = Buffer.from(text, 'latin1');
  return [...hpackInteger(bytes.length, 7, 0x00), ...bytes];   // H = 0: no Huffman
}

/**
 * A header block of "literal header field without indexing — new name"
 * entries (0x00, name, value). Pseudo-headers must come first; names must
 * be lower case (HTTP/2 rejects upper case).
 */
export function encodeLiteralHeaderBlock(headers: readonly (readonly [string, string])[]): Buffer {
  const bytes: number[] = [];
  for (const [name, value] of headers) {
    if (name !== name.toLowerCase()) throw new TypeError(`HTTP/2 header names must be lower case: ${name}`);
    bytes.push(0x00, ...hpackString(name), ...hpackString(value));
  }
  return Buffer.from(bytes);
}

/** The header block of a gRPC unary call: POST `path` over plain http. */
export function grpcRequestHeaderBlock(authority: string, path: string): Buffer {
  return encodeLiteralHeaderBlock([
    [':method', 'POST'],
    [':scheme', 'http'],
    [':path', path],
    [':authority', authority],
    ['content-type', 'application/grpc'],
    ['te', 'trailers'],
  ]);
}

/** A SETTINGS frame with the given (id, value) pairs. */
export function settingsFrame(settings: readonly (readonly [number, number])[]): Buffer {
  const frame = Buffer.alloc(FRAME_HEADER_BYTES + settings.length * 6);
  writeFrameHeader(frame, 0, settings.length * 6, FrameType.SETTINGS, 0, 0);
  settings.forEach(([id, value], i) => {
    frame.writeUInt16BE(id, FRAME_HEADER_BYTES + i * 6);
    frame.writeUInt32BE(value, FRAME_HEADER_BYTES + i * 6 + 2);
  });
  return frame;
}

/** What the generator needs of a CheckResponse. */
export interface CheckVerdict {
  /** google.rpc.Status code: 0 = allowed. -1 = the bytes are not a CheckResponse. */
  code: number;
  /** denied_response.status.code (the HTTP status Envoy would send), 0 when absent. */
  httpStatus: number;
}

/**
 * Reads CheckResponse { Status status = 1 { int32 code = 1 }; DeniedHttpResponse
 * denied_response = 2 { HttpStatus status = 1 { StatusCode code = 1 } } }
 * from `buf[start, end)`, skipping every other field. Fills `out`; no allocation.
 */
export function readCheckVerdict(buf: Buffer, start: number, end: number, out: CheckVerdict): void {
  out.code = 0;
  out.httpStatus = 0;
  const statusRange = findField(buf, start, end, 1);
  if (statusRange === -2) { out.code = -1; return; }
  if (statusRange >= 0) {
    const code = findVarint(buf, fieldStart, fieldEnd, 1);
    if (code === -2) { out.code = -1; return; }
    out.code = code < 0 ? 0 : code;
  }
  const denied = findField(buf, start, end, 2);
  if (denied === -2) { out.code = -1; return; }
  if (denied >= 0) {
    const httpStatusRange = findField(buf, fieldStart, fieldEnd, 1);
    if (httpStatusRange >= 0) {
      const code = findVarint(buf, fieldStart, fieldEnd, 1);
      out.httpStatus = code < 0 ? 0 : code;
    }
  }
}

// Result registers of findField (module-level so the reader allocates nothing).
let fieldStart = 0;
let fieldEnd = 0;
let cursor = 0;

/** Reads a varint at `cursor` (advancing it); -1 on truncation. Values above 2^53 are not expected here. */
function varint(buf: Buffer, end: number): number {
  let value = 0;
  let scale = 1;
  while (cursor < end) {
    const byte = buf[cursor++]!;
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) return value;
    scale *= 128;
    if (scale > 2 ** 63) return -1;
  }
  return -1;
}

/** Skips a field's value of the given wire type; false when malformed. */
function skip(buf: Buffer, end: number, wireType: number): boolean {
  switch (wireType) {
    case 0: return varint(buf, end) >= 0;
    case 1: cursor += 8; return cursor <= end;
    case 2: {
      const length = varint(buf, end);
      if (length < 0) return false;
      cursor += length;
      return cursor <= end;
    }
    case 5: cursor += 4; return cursor <= end;
    default: return false;
  }
}

/**
 * Finds the last length-delimited field `number` in [start, end) (protobuf:
 * the last occurrence wins; for messages they merge, which a code field
 * read from the last one approximates well enough for a load generator).
 * Sets fieldStart/fieldEnd and returns 0; -1 when absent; -2 when malformed.
 */
function findField(buf: Buffer, start: number, end: number, number: number): number {
  cursor = start;
  let found = -1;
  let foundStart = 0;
  let foundEnd = 0;
  while (cursor < end) {
    const key = varint(buf, end);
    if (key < 0) return -2;
    const wireType = key & 7;
    if (Math.floor(key / 8) === number && wireType === 2) {
      const length = varint(buf, end);
      if (length < 0 || cursor + length > end) return -2;
      found = 0;
      foundStart = cursor;
      foundEnd = cursor + length;
      cursor += length;
    } else if (!skip(buf, end, wireType)) {
      return -2;
    }
  }
  fieldStart = foundStart;
  fieldEnd = foundEnd;
  return found;
}

/** The varint field `number` in [start, end): its value, -1 when absent, -2 when malformed. */
function findVarint(buf: Buffer, start: number, end: number, number: number): number {
  cursor = start;
  let found = -1;
  while (cursor < end) {
    const key = varint(buf, end);
    if (key < 0) return -2;
    const wireType = key & 7;
    if (Math.floor(key / 8) === number && wireType === 0) {
      const value = varint(buf, end);
      if (value < 0) return -2;
      // int32 negatives are sign-extended to 10 bytes; only non-negative codes are meaningful here.
      found = value > 0x7fffffff ? -1 : value;
    } else if (!skip(buf, end, wireType)) {
      return -2;
    }
  }
  return found;
}
