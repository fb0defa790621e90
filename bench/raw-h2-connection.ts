/**
 * One HTTP/2 client connection on a bare `node:net` socket, for the raw gRPC
 * load generator: it opens streams with a pre-encoded header block plus one
 * DATA frame, parses what comes back frame by frame, and hands stream events
 * to a sink by *slot* (the generator's index for one request in flight).
 *
 * Allocation per request is kept near zero: the socket reads into one
 * preallocated buffer (`onread`), frames are parsed in place, outgoing bytes
 * are copied into pooled chunks that are written once per batch, and the
 * stream-id → slot map is a typed array.
 *
 * What it deliberately does not do: decode response HPACK (it only needs
 * "headers seen" and END_STREAM), send priority, or split a request body
 * across several DATA frames (a Check request is ~2 KB; larger is refused).
 */
import * as net from 'node:net';
import {
  CLIENT_PREFACE, DEFAULT_MAX_FRAME_SIZE, DEFAULT_WINDOW, FRAME_HEADER_BYTES, Flags, FrameType, MAX_STREAM_ID, MAX_WINDOW,
  Setting, settingsFrame, writeFrameHeader,
} from './raw-h2-protocol.js';

/** Where a connection reports what happened to the streams it carries. */
export interface StreamSink {
  /** A HEADERS frame (first of a block) arrived for the slot's stream. */
  onHeaders(slot: number, endStream: boolean): void;
  /** DATA payload bytes for the slot's stream (buf[start, end)); endStream on the last. */
  onData(slot: number, buf: Buffer, start: number, end: number, endStream: boolean): void;
  /** The stream failed: `why` is a short, bounded label (rst-N, goaway, transport, protocol). */
  onStreamError(slot: number, why: string): void;
}

export interface ConnectionOptions {
  readonly host: string;
  readonly port: number;
  readonly headerBlock: Buffer;
  readonly sink: StreamSink;
  /** Highest stream id this connection may use (for tests of rotation); default 2^31−1. */
  readonly maxStreamId?: number;
  /** Called once when the connection can open no more streams and has none in flight. */
  readonly onRetired?: (connection: RawH2Connection) => void;
}

/** Our receive windows: large, so the server never waits for us. */
const STREAM_RECEIVE_WINDOW = 16 * 1024 * 1024;
/** Replenish the connection receive window after this many DATA bytes. */
const CONNECTION_WINDOW_REFILL = 64 * 1024 * 1024;
const READ_BUFFER_BYTES = 256 * 1024;
const OUT_CHUNK_BYTES = 256 * 1024;
/** Ring of stream id → slot; a stream outliving this many younger ones falls back to a Map. */
const ID_RING = 1 << 16;

const CLIENT_SETTINGS = settingsFrame([
  [Setting.ENABLE_PUSH, 0],
  [Setting.INITIAL_WINDOW_SIZE, STREAM_RECEIVE_WINDOW],
  [Setting.MAX_FRAME_SIZE, DEFAULT_MAX_FRAME_SIZE],
]);

/** Outgoing bytes: pooled chunks, each written in slices once per batch and reused when every write of it is done. */
class OutBuffer {
  #chunk: Buffer;
  #chunkIndex: number;
  #pos = 0;
  #flushed = 0;
  readonly #chunks: Buffer[] = [];
  readonly #pending: number[] = [];
  readonly #done: (() => void)[] = [];
  readonly #free: number[] = [];
  readonly #socket: net.Socket;

  constructor(socket: net.Socket) {
    this.#socket = socket;
    this.#chunkIndex = this.#newChunk();
    this.#chunk = this.#chunks[this.#chunkIndex]!;
  }

  #newChunk(): number {
    const index = this.#chunks.length;
    this.#chunks.push(Buffer.allocUnsafe(OUT_CHUNK_BYTES));
    this.#pending.push(0);
    // One bound callback per chunk, made once: the write path allocates no closure.
    this.#done.push(() => {
      if (--this.#pending[index]! === 0 && index !== this.#chunkIndex) this.#free.push(index);
    });
    return index;
  }

  /** Room for `n` more bytes; returns the buffer and sets `at` to where to write. */
  reserve(n: number): Buffer {
    if (n > OUT_CHUNK_BYTES) throw new RangeError(`raw-h2: a ${n}-byte write exceeds the ${OUT_CHUNK_BYTES}-byte chunk`);
    if (this.#pos + n > OUT_CHUNK_BYTES) {
      this.flush();
      const old = this.#chunkIndex;
      this.#chunkIndex = this.#free.pop() ?? this.#newChunk();
      this.#chunk = this.#chunks[this.#chunkIndex]!;
      if (this.#pending[old] === 0) this.#free.push(old);
      this.#pos = 0;
      this.#flushed = 0;
    }
    this.at = this.#pos;
    this.#pos += n;
    return this.#chunk;
  }

  at = 0;

  get dirty(): boolean {
    return this.#pos > this.#flushed;
  }

  flush(): void {
    if (this.#pos === this.#flushed || this.#socket.destroyed) return;
    this.#pending[this.#chunkIndex]!++;
    this.#socket.write(this.#chunk.subarray(this.#flushed, this.#pos), this.#done[this.#chunkIndex]);
    this.#flushed = this.#pos;
  }
}

export class RawH2Connection {
  readonly #socket: net.Socket;
  readonly #out: OutBuffer;
  readonly #sink: StreamSink;
  readonly #headerBlock: Buffer;
  readonly #maxStreamId: number;
  readonly #onRetired: ((c: RawH2Connection) => void) | undefined;

  // Incoming bytes not yet parsed (a frame can span reads).
  #in = Buffer.allocUnsafe(READ_BUFFER_BYTES * 2);
  #inLen = 0;

  #nextStreamId = 1;
  readonly #ring = new Int32Array(ID_RING).fill(-1);
  readonly #ringId = new Int32Array(ID_RING);
  readonly #overflow = new Map<number, number>();
  #inFlight = 0;

  #sendWindow = DEFAULT_WINDOW;
  #peerStreamWindow = DEFAULT_WINDOW;
  #peerMaxFrame = DEFAULT_MAX_FRAME_SIZE;
  #peerMaxStreams = Number.POSITIVE_INFINITY;
  #receivedSinceRefill = 0;
  /** Slots whose request waits for connection send window, with a private copy of their body. */
  readonly #blocked: number[] = [];
  readonly #blockedBodies = new Map<number, Buffer>();

  /** Stream whose header block is still being continued (CONTINUATION), its slot and END_STREAM flag. */
  #continuingSlot = -1;
  #continuingEnd = false;

  #goneAway = false;
  #closed = false;
  #retired = false;
  /** Why the connection died (bounded label), once it has. */
  failure: string | undefined;

  constructor(options: ConnectionOptions) {
    this.#sink = options.sink;
    this.#headerBlock = options.headerBlock;
    this.#maxStreamId = Math.min(options.maxStreamId ?? MAX_STREAM_ID, MAX_STREAM_ID);
    this.#onRetired = options.onRetired;
    const readBuffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);
    this.#socket = net.connect({
      host: options.host,
      port: options.port,
      noDelay: true, // as h2load and grpc-js: small frames must not wait for ACKs
      onread: { buffer: readBuffer, callback: (n: number, buf: Uint8Array) => { this.#onRead(buf as Buffer, n); return true; } },
    });
    this.#out = new OutBuffer(this.#socket);
    this.#socket.on('error', () => this.#fail('transport'));
    this.#socket.on('close', () => this.#fail('transport'));

    this.#write(CLIENT_PREFACE);
    this.#write(CLIENT_SETTINGS);
    this.#windowUpdate(0, MAX_WINDOW - DEFAULT_WINDOW);
    this.#out.flush();
  }

  /** True while new streams may be opened here. */
  get open(): boolean {
    return !this.#closed && !this.#goneAway && this.#nextStreamId <= this.#maxStreamId;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /** Whether another stream fits under the server's SETTINGS_MAX_CONCURRENT_STREAMS. */
  get hasStreamCapacity(): boolean {
    return this.#inFlight < this.#peerMaxStreams;
  }

  /**
   * Opens a stream for `slot` and queues HEADERS + DATA(END_STREAM) carrying
   * `body` (a whole gRPC frame). Bytes leave on the next flush().
   */
  request(slot: number, body: Buffer): void {
    if (body.length > this.#peerMaxFrame || body.length > this.#peerStreamWindow) {
      throw new RangeError(`raw-h2: a ${body.length}-byte request does not fit one DATA frame here`);
    }
    const id = this.#nextStreamId;
    this.#nextStreamId += 2;
    this.#bind(id, slot);
    this.#inFlight++;
    const block = this.#headerBlock;
    const out = this.#out.reserve(FRAME_HEADER_BYTES + block.length);
    let at = this.#out.at;
    writeFrameHeader(out, at, block.length, FrameType.HEADERS, Flags.END_HEADERS, id);
    block.copy(out, at + FRAME_HEADER_BYTES);
    if (this.#sendWindow >= body.length && this.#blocked.length === 0) {
      this.#sendWindow -= body.length;
      const data = this.#out.reserve(FRAME_HEADER_BYTES + body.length);
      at = this.#out.at;
      writeFrameHeader(data, at, body.length, FrameType.DATA, Flags.END_STREAM, id);
      body.copy(data, at + FRAME_HEADER_BYTES);
    } else {
      // Rare (the server grants window as it reads); the body may be a reused buffer, so keep a copy.
      this.#blocked.push(id);
      this.#blockedBodies.set(id, Buffer.from(body));
    }
    if (this.#nextStreamId > this.#maxStreamId) this.#maybeRetire();
  }

  flush(): void {
    this.#out.flush();
  }

  get dirty(): boolean {
    return this.#out.dirty;
  }

  /** Closes the socket; streams still in flight fail as `why`. */
  destroy(why = 'closed'): void {
    this.#fail(why);
  }

  #write(bytes: Buffer): void {
    const out = this.#out.reserve(bytes.length);
    bytes.copy(out, this.#out.at);
  }

  #windowUpdate(streamId: number, increment: number): void {
    const out = this.#out.reserve(FRAME_HEADER_BYTES + 4);
    const at = this.#out.at;
    writeFrameHeader(out, at, 4, FrameType.WINDOW_UPDATE, 0, streamId);
    out.writeUInt32BE(increment, at + FRAME_HEADER_BYTES);
  }

  #bind(id: number, slot: number): void {
    const index = (id >>> 1) & (ID_RING - 1);
    if (this.#ring[index] === -1) {
      this.#ring[index] = slot;
      this.#ringId[index] = id;
    } else {
      this.#overflow.set(id, slot);
    }
  }

  /** The slot of stream `id`, or -1; `release` forgets the stream. */
  #slotOf(id: number, release: boolean): number {
    const index = (id >>> 1) & (ID_RING - 1);
    if (this.#ring[index] !== -1 && this.#ringId[index] === id) {
      const slot = this.#ring[index]!;
      if (release) this.#ring[index] = -1;
      return slot;
    }
    const slot = this.#overflow.get(id);
    if (slot === undefined) return -1;
    if (release) this.#overflow.delete(id);
    return slot;
  }

  #streamDone(): void {
    this.#inFlight--;
    this.#maybeRetire();
  }

  #maybeRetire(): void {
    if (this.#retired || this.#inFlight > 0 || this.open) return;
    this.#retired = true;
    if (!this.#closed) {
      this.#out.flush();
      this.#closed = true;
      this.#socket.end();
    }
    this.#onRetired?.(this);
  }

  #fail(why: string): void {
    if (this.#closed && this.#inFlight === 0) return;
    this.#closed = true;
    this.failure ??= why;
    this.#socket.destroy();
    // Every stream still bound fails; collect first, the sink may start new requests on other connections.
    const slots: number[] = [];
    for (let i = 0; i < ID_RING; i++) {
      if (this.#ring[i] !== -1) { slots.push(this.#ring[i]!); this.#ring[i] = -1; }
    }
    for (const slot of this.#overflow.values()) slots.push(slot);
    this.#overflow.clear();
    this.#blocked.length = 0;
    this.#blockedBodies.clear();
    this.#inFlight = 0;
    for (const slot of slots) this.#sink.onStreamError(slot, why);
    this.#maybeRetire();
  }

  #onRead(chunk: Buffer, n: number): void {
    if (this.#inLen + n > this.#in.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.#in.length * 2, this.#inLen + n));
      this.#in.copy(bigger, 0, 0, this.#inLen);
      this.#in = bigger;
    }
    chunk.copy(this.#in, this.#inLen, 0, n);
    this.#inLen += n;
    const buf = this.#in;
    let at = 0;
    while (this.#inLen - at >= FRAME_HEADER_BYTES) {
      const length = (buf[at]! << 16) | (buf[at + 1]! << 8) | buf[at + 2]!;
      if (this.#inLen - at < FRAME_HEADER_BYTES + length) break;
      const type = buf[at + 3]!;
      const flags = buf[at + 4]!;
      const streamId = buf.readUInt32BE(at + 5) & 0x7fffffff;
      this.#onFrame(buf, type, flags, streamId, at + FRAME_HEADER_BYTES, at + FRAME_HEADER_BYTES + length);
      if (this.#closed && this.failure !== undefined) return;
      at += FRAME_HEADER_BYTES + length;
    }
    if (at > 0) {
      buf.copyWithin(0, at, this.#inLen);
      this.#inLen -= at;
    }
    this.#out.flush();
  }

  #onFrame(buf: Buffer, type: number, flags: number, streamId: number, start: number, end: number): void {
    switch (type) {
      case FrameType.DATA: {
        this.#receivedSinceRefill += end - start;
        if (this.#receivedSinceRefill >= CONNECTION_WINDOW_REFILL) {
          this.#windowUpdate(0, this.#receivedSinceRefill);
          this.#receivedSinceRefill = 0;
        }
        if (flags & Flags.PADDED) {
          const pad = buf[start]!;
          start += 1;
          end -= pad;
          if (end < start) return this.#fail('protocol');
        }
        const endStream = (flags & Flags.END_STREAM) !== 0;
        const slot = this.#slotOf(streamId, endStream);
        if (slot === -1) return;
        this.#sink.onData(slot, buf, start, end, endStream);
        if (endStream) this.#streamDone();
        return;
      }
      case FrameType.HEADERS: {
        const endStream = (flags & Flags.END_STREAM) !== 0;
        const endHeaders = (flags & Flags.END_HEADERS) !== 0;
        const slot = this.#slotOf(streamId, endStream && endHeaders);
        if (slot === -1) return;
        if (!endHeaders) {
          // The stream ends when the block does: wait for the last CONTINUATION.
          this.#continuingSlot = slot;
          this.#continuingEnd = endStream;
          this.#continuingId = streamId;
          return;
        }
        this.#sink.onHeaders(slot, endStream);
        if (endStream) this.#streamDone();
        return;
      }
      case FrameType.CONTINUATION: {
        if (this.#continuingSlot === -1 || streamId !== this.#continuingId) return this.#fail('protocol');
        if (!(flags & Flags.END_HEADERS)) return;
        const slot = this.#continuingSlot;
        const endStream = this.#continuingEnd;
        this.#continuingSlot = -1;
        if (endStream) this.#slotOf(streamId, true);
        this.#sink.onHeaders(slot, endStream);
        if (endStream) this.#streamDone();
        return;
      }
      case FrameType.RST_STREAM: {
        const slot = this.#slotOf(streamId, true);
        if (slot === -1) return;
        const code = end - start >= 4 ? buf.readUInt32BE(start) : -1;
        this.#sink.onStreamError(slot, `rst-${code}`);
        this.#streamDone();
        return;
      }
      case FrameType.SETTINGS: {
        if (flags & Flags.ACK) return;
        for (let at = start; at + 6 <= end; at += 6) this.#applySetting(buf.readUInt16BE(at), buf.readUInt32BE(at + 2));
        const out = this.#out.reserve(FRAME_HEADER_BYTES);
        writeFrameHeader(out, this.#out.at, 0, FrameType.SETTINGS, Flags.ACK, 0);
        return;
      }
      case FrameType.PING: {
        if (flags & Flags.ACK || end - start !== 8) return;
        const out = this.#out.reserve(FRAME_HEADER_BYTES + 8);
        const at = this.#out.at;
        writeFrameHeader(out, at, 8, FrameType.PING, Flags.ACK, 0);
        buf.copy(out, at + FRAME_HEADER_BYTES, start, end);
        return;
      }
      case FrameType.WINDOW_UPDATE: {
        if (streamId !== 0 || end - start < 4) return;   // stream windows: one small DATA per stream never needs more
        this.#sendWindow += buf.readUInt32BE(start) & 0x7fffffff;
        this.#sendBlocked();
        return;
      }
      case FrameType.GOAWAY: {
        this.#goneAway = true;
        const lastStreamId = end - start >= 4 ? buf.readUInt32BE(start) & 0x7fffffff : 0;
        // Streams above last-stream-id were never processed: they fail now; the others may still finish.
        for (let i = 0; i < ID_RING; i++) {
          if (this.#ring[i] !== -1 && this.#ringId[i]! > lastStreamId) {
            const slot = this.#ring[i]!;
            this.#ring[i] = -1;
            this.#sink.onStreamError(slot, 'goaway');
            this.#inFlight--;
          }
        }
        for (const [id, slot] of [...this.#overflow]) {
          if (id > lastStreamId) {
            this.#overflow.delete(id);
            this.#sink.onStreamError(slot, 'goaway');
            this.#inFlight--;
          }
        }
        this.#maybeRetire();
        return;
      }
      default:
        return; // PRIORITY, PUSH_PROMISE (disabled), unknown types: ignored as RFC 9113 asks
    }
  }

  #continuingId = 0;

  #applySetting(id: number, value: number): void {
    if (id === Setting.INITIAL_WINDOW_SIZE) this.#peerStreamWindow = value;
    else if (id === Setting.MAX_FRAME_SIZE) this.#peerMaxFrame = value;
    else if (id === Setting.MAX_CONCURRENT_STREAMS) this.#peerMaxStreams = value;
  }

  #sendBlocked(): void {
    while (this.#blocked.length > 0) {
      const id = this.#blocked[0]!;
      const body = this.#blockedBodies.get(id)!;
      if (this.#sendWindow < body.length) return;
      this.#blocked.shift();
      this.#blockedBodies.delete(id);
      this.#sendWindow -= body.length;
      const out = this.#out.reserve(FRAME_HEADER_BYTES + body.length);
      writeFrameHeader(out, this.#out.at, body.length, FrameType.DATA, Flags.END_STREAM, id);
      body.copy(out, this.#out.at + FRAME_HEADER_BYTES);
    }
  }
}
