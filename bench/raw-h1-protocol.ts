/**
 * The HTTP/1.1 pieces of the raw HTTP/1.1 load generator (raw-h1-load.ts):
 *
 * - `H1ResponseReader`: reads responses off one connection as bytes arrive,
 *   in place, one byte at a time through a small state machine — no string
 *   is made, nothing is copied, and a response may be split anywhere across
 *   reads or share a read with the next one. It only keeps what a client
 *   that does not pipeline needs: the status code, the body length
 *   (`content-length`, skipped without looking at it) and whether the server
 *   will close the connection (`connection: close`). Interim 1xx responses
 *   are read and dropped. A response it cannot frame (chunked, no length,
 *   not HTTP/1.x) is reported as malformed: the connection must be dropped.
 * - `readHttp1RequestsFile`: a file of whole requests back to back, split
 *   once at start-up into the buffers the generator writes as they are.
 */
import { readFileSync } from 'node:fs';
import { BenchError } from './bench-error.js';

/** Where a reader reports what it read. */
export interface ResponseSink {
  /** A final response was read to its last body byte; `closeAfter` = the server asked to close the connection. */
  onResponse(connection: number, status: number, closeAfter: boolean): void;
  /** The bytes cannot be framed as an HTTP/1.1 response (`why`: a short, bounded label); nothing more is read. */
  onMalformed(connection: number, why: string): void;
}

// Reader states.
const STATUS_LINE = 0;
const LINE_START = 1;
const NAME = 2;
const SKIP_LINE = 3;
const VALUE_LENGTH = 4;
const VALUE_CONNECTION = 5;
const VALUE_TRANSFER_ENCODING = 6;
const HEAD_END_CR = 7;
const BODY = 8;
const HALTED = 9;

const CR = 0x0d;
const LF = 0x0a;
const SPACE = 0x20;
const TAB = 0x09;
const COLON = 0x3a;
const ZERO = 0x30;
const NINE = 0x39;

/** The header names that matter, lower-case, as bytes; the bit of each in the candidate mask. */
const CONTENT_LENGTH = Buffer.from('content-length', 'latin1');
const CONNECTION = Buffer.from('connection', 'latin1');
const TRANSFER_ENCODING = Buffer.from('transfer-encoding', 'latin1');
const BIT_LENGTH = 1;
const BIT_CONNECTION = 2;
const BIT_TRANSFER_ENCODING = 4;
const ALL_BITS = BIT_LENGTH | BIT_CONNECTION | BIT_TRANSFER_ENCODING;
const CLOSE = Buffer.from('close', 'latin1');
const HTTP_SLASH = Buffer.from('HTTP/', 'latin1');
/** Far above any answer of the service; a larger length means we are not reading what we think. */
const MAX_CONTENT_LENGTH = 64 * 1024 * 1024;
/** A status line or header line longer than this is not a response we can trust. */
const MAX_LINE = 64 * 1024;

const lower = (b: number) => (b >= 0x41 && b <= 0x5a ? b | 0x20 : b);

/**
 * One connection's response reader. Feed it every byte read, in order; it
 * calls the sink once per final response. After `halt()` (or a malformed
 * response) it reads nothing more: a reopened connection gets a fresh reader,
 * so bytes of the old one can never be taken for an answer on the new one.
 */
export class H1ResponseReader {
  readonly #connection: number;
  readonly #sink: ResponseSink;
  #state = STATUS_LINE;
  /** Bytes seen on the current line (status line: its position; header name: its length so far). */
  #linePos = 0;
  #status = 0;
  #candidates = 0;
  #contentLength = 0;
  #lengthDigits = 0;
  #haveLength = false;
  #close = false;
  #closeMatched = 0;
  #chunked = false;
  #bodyLeft = 0;

  constructor(connection: number, sink: ResponseSink) {
    this.#connection = connection;
    this.#sink = sink;
  }

  get halted(): boolean {
    return this.#state === HALTED;
  }

  /** Stops reading for good (the connection is being dropped). */
  halt(): void {
    this.#state = HALTED;
  }

  /** True between responses: no byte of a response has been read since the last one ended. */
  get atResponseStart(): boolean {
    return this.#state === STATUS_LINE && this.#linePos === 0;
  }

  /** Reads buf[start, end). */
  feed(buf: Uint8Array, start: number, end: number): void {
    let pos = start;
    while (pos < end) {
      const state = this.#state;
      if (state === BODY) {
        // The body is not looked at: skip as much of it as this read holds.
        const take = Math.min(this.#bodyLeft, end - pos);
        pos += take;
        this.#bodyLeft -= take;
        if (this.#bodyLeft === 0) this.#complete();
        continue;
      }
      if (state === HALTED) return;
      const b = buf[pos++]!;
      switch (state) {
        case STATUS_LINE: this.#statusByte(b); break;
        case LINE_START:
          if (b === CR) this.#state = HEAD_END_CR;
          else if (b === LF) this.#headEnd();
          else { this.#state = NAME; this.#linePos = 0; this.#candidates = ALL_BITS; this.#nameByte(b); }
          break;
        case NAME: this.#nameByte(b); break;
        case SKIP_LINE: if (b === LF) this.#state = LINE_START; else this.#lineByte(); break;
        case VALUE_LENGTH:
          if (b === LF) {
            if (this.#lengthDigits === 0) this.#malformed('bad-content-length'); else { this.#haveLength = true; this.#state = LINE_START; }
            break;
          }
          if (b === SPACE || b === TAB || b === CR) break;
          if (b < ZERO || b > NINE) { this.#malformed('bad-content-length'); break; }
          this.#lengthDigits++;
          this.#contentLength = this.#contentLength * 10 + (b - ZERO);
          if (this.#contentLength > MAX_CONTENT_LENGTH) this.#malformed('bad-content-length');
          break;
        case VALUE_CONNECTION:
          if (b === LF) { this.#state = LINE_START; break; }
          // "close" anywhere in the value (`close`, `keep-alive, close`); no prefix of it repeats, so a
          // mismatch restarts the match at this byte.
          if (lower(b) === CLOSE[this.#closeMatched]) {
            if (++this.#closeMatched === CLOSE.length) { this.#close = true; this.#closeMatched = 0; }
          } else {
            this.#closeMatched = lower(b) === CLOSE[0] ? 1 : 0;
          }
          this.#lineByte();
          break;
        case VALUE_TRANSFER_ENCODING:
          // Any transfer coding means a body framed by something other than content-length.
          if (b === LF) this.#state = LINE_START;
          else if (b !== SPACE && b !== TAB && b !== CR) this.#chunked = true;
          break;
        case HEAD_END_CR:
          if (b === LF) this.#headEnd(); else this.#malformed('bad-header-end');
          break;
      }
    }
  }

  #lineByte(): void {
    if (++this.#linePos > MAX_LINE) this.#malformed('line-too-long');
  }

  /** Status line: `HTTP/1.x NNN reason`; only the digits are kept. */
  #statusByte(b: number): void {
    const at = this.#linePos++;
    if (b === LF) {
      if (at < 12) this.#malformed('bad-status-line'); else this.#state = LINE_START;
      return;
    }
    if (at < 5) { if (b !== HTTP_SLASH[at]) this.#malformed('bad-status-line'); return; }
    if (at === 8) { if (b !== SPACE) this.#malformed('bad-status-line'); return; }
    if (at >= 9 && at <= 11) {
      if (b < ZERO || b > NINE) { this.#malformed('bad-status-line'); return; }
      this.#status = this.#status * 10 + (b - ZERO);
      return;
    }
    if (at > MAX_LINE) this.#malformed('line-too-long');
  }

  /** Header name, lower-cased byte by byte against the names that matter; any other header is skipped to its LF. */
  #nameByte(b: number): void {
    const at = this.#linePos++;
    if (b === COLON) {
      const c = this.#candidates;
      // A repeated content-length counts with its last value (the service never sends two).
      if ((c & BIT_LENGTH) !== 0 && at === CONTENT_LENGTH.length) { this.#state = VALUE_LENGTH; this.#contentLength = 0; this.#lengthDigits = 0; }
      else if ((c & BIT_CONNECTION) !== 0 && at === CONNECTION.length) { this.#state = VALUE_CONNECTION; this.#closeMatched = 0; this.#linePos = 0; }
      else if ((c & BIT_TRANSFER_ENCODING) !== 0 && at === TRANSFER_ENCODING.length) this.#state = VALUE_TRANSFER_ENCODING;
      else this.#state = SKIP_LINE;
      return;
    }
    if (b === LF) { this.#malformed('bad-header'); return; }
    const l = lower(b);
    let c = this.#candidates;
    if ((c & BIT_LENGTH) !== 0 && CONTENT_LENGTH[at] !== l) c &= ~BIT_LENGTH;
    if ((c & BIT_CONNECTION) !== 0 && CONNECTION[at] !== l) c &= ~BIT_CONNECTION;
    if ((c & BIT_TRANSFER_ENCODING) !== 0 && TRANSFER_ENCODING[at] !== l) c &= ~BIT_TRANSFER_ENCODING;
    this.#candidates = c;
    if (c === 0) this.#state = SKIP_LINE;
  }

  /** The empty line: an interim answer is dropped, a final one is framed by its length. */
  #headEnd(): void {
    const status = this.#status;
    if (status >= 100 && status < 200) {
      // 101 would switch the connection to another protocol: not an answer this client can read.
      if (status === 101) { this.#malformed('upgrade'); return; }
      this.#startResponse();
      return;
    }
    if (this.#chunked) { this.#malformed('transfer-encoding'); return; }
    if (status === 204 || status === 304) {
      this.#bodyLeft = 0;
    } else if (!this.#haveLength) {
      // A body read until the connection closes cannot be told from a lost connection.
      this.#malformed('no-content-length');
      return;
    } else {
      this.#bodyLeft = this.#contentLength;
    }
    if (this.#bodyLeft === 0) this.#complete(); else this.#state = BODY;
  }

  #complete(): void {
    const status = this.#status;
    const close = this.#close;
    this.#startResponse();
    this.#sink.onResponse(this.#connection, status, close);
  }

  #startResponse(): void {
    this.#state = STATUS_LINE;
    this.#linePos = 0;
    this.#status = 0;
    this.#contentLength = 0;
    this.#haveLength = false;
    this.#close = false;
    this.#chunked = false;
    this.#bodyLeft = 0;
  }

  #malformed(why: string): void {
    this.#state = HALTED;
    this.#sink.onMalformed(this.#connection, why);
  }
}

/** Largest single request a requests file may hold; a Check request is ~1.5 KB. */
const MAX_REQUEST_BYTES = 1024 * 1024;
const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');
const REQUEST_LINE = /^[A-Z]{1,20} \/\S* HTTP\/1\.1$/;

/**
 * Splits a file of whole HTTP/1.1 requests (head, CRLF CRLF, then as many
 * body bytes as its content-length says) into one buffer per request.
 * Rejects anything the server could read differently from us: no
 * transfer-encoding, no pipelining surprises.
 */
export function splitHttp1Requests(bytes: Buffer, what: string): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  while (at < bytes.length) {
    const headEnd = bytes.indexOf(HEAD_END, at);
    if (headEnd === -1) throw new BenchError('ERR_BENCH_FRAMES', `${what}: request at byte ${at} has no end of head (CRLF CRLF)`);
    const lines = bytes.toString('latin1', at, headEnd).split('\r\n');
    if (!REQUEST_LINE.test(lines[0]!)) throw new BenchError('ERR_BENCH_FRAMES', `${what}: request at byte ${at} does not start with "METHOD /path HTTP/1.1"`);
    let bodyLength = 0;
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon <= 0) throw new BenchError('ERR_BENCH_FRAMES', `${what}: request at byte ${at} has a header line without a name`);
      const name = line.slice(0, colon).toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === 'transfer-encoding') throw new BenchError('ERR_BENCH_FRAMES', `${what}: request at byte ${at} uses transfer-encoding; give a content-length`);
      if (name === 'content-length') {
        if (!/^\d{1,9}$/.test(value)) throw new BenchError('ERR_BENCH_FRAMES', `${what}: request at byte ${at} has content-length "${value}"`);
        bodyLength = Number(value);
      }
    }
    const end = headEnd + HEAD_END.length + bodyLength;
    if (end > bytes.length) throw new BenchError('ERR_BENCH_FRAMES', `${what}: request at byte ${at} is truncated`);
    if (end - at > MAX_REQUEST_BYTES) throw new BenchError('ERR_BENCH_FRAMES', `${what}: request at byte ${at} is over ${MAX_REQUEST_BYTES} bytes`);
    out.push(bytes.subarray(at, end));
    at = end;
  }
  if (out.length === 0) throw new BenchError('ERR_BENCH_FRAMES', `${what}: no requests`);
  return out;
}

export function readHttp1RequestsFile(path: string): Buffer[] {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new BenchError('ERR_BENCH_FRAMES', `cannot read requests file ${path}`, { cause: err });
  }
  return splitHttp1Requests(bytes, path);
}
