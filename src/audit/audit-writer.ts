/**
 * The audit log's output: lines queued in memory and written in the
 * background, so a decision never waits for a disk or a pipe. The queue is
 * bounded (`buffer-lines`): past it a line is dropped and counted, never
 * waited for. A file is rotated by size (file → file.1 → … → file.N-1, the
 * oldest deleted) before a line would take it past `max-size`. A write
 * error drops the lines of that write (counted), is logged once until a
 * write succeeds again, and is never thrown to a caller.
 */
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { write as fdWrite } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import type { Logger } from 'pino';
import type { AuditConfig } from '../config/types.js';
import { auditDroppedTotal } from '../observability/metrics.js';

const writeFd = promisify(fdWrite);
const STDOUT_RETRY_MS = 10;
const STDOUT_FD = 1;
/** How long close() waits for a stuck output before giving up on what is queued. */
const CLOSE_TIMEOUT_MS = 5_000;
/** One write to a file carries at most this many bytes (then the next batch). */
const MAX_BATCH_BYTES = 256 * 1024;
/**
 * On stdout (usually a pipe shared with the service's own log lines) a
 * write is kept within PIPE_BUF, which POSIX makes atomic: a log line is
 * never spliced into the middle of an audit line. A longer line goes alone.
 */
const PIPE_BUF = 4096;

export type AuditWriterOptions = Pick<AuditConfig, 'output' | 'maxSizeBytes' | 'maxFiles' | 'bufferLines'>;

export class AuditWriter {
  readonly #options: AuditWriterOptions;
  readonly #logger: Logger;
  #queue: string[] = [];
  /** Lines of the batch being written. */
  #inFlight = 0;
  #writing: Promise<void> | undefined;
  #file: FileHandle | undefined;
  #size = 0;
  #failing = false;
  #closed = false;
  /** close() stopped waiting for a stuck output. */
  #gaveUp = false;

  constructor(options: AuditWriterOptions, logger: Logger) {
    this.#options = options;
    this.#logger = logger;
  }

  /** Lines waiting to be written. */
  get queued(): number {
    return this.#queue.length;
  }

  /** Queues one line (no newline); never blocks, never throws. */
  write(line: string): void {
    if (this.#closed) return;
    if (this.#queue.length >= this.#options.bufferLines) {
      auditDroppedTotal.inc({ reason: 'buffer_full' });
      return;
    }
    this.#queue.push(`${line}\n`);
    if (this.#writing === undefined) this.#writing = this.#drain();
  }

  /**
   * Writes what is queued, then closes the file. Lines written after close
   * are ignored. An output stuck for `timeoutMs` (a reader that never reads)
   * does not hold a shutdown: what is still queued is dropped and counted.
   */
  async close(timeoutMs = CLOSE_TIMEOUT_MS): Promise<void> {
    this.#closed = true;
    let timer: NodeJS.Timeout | undefined;
    const stuck = new Promise<'stuck'>((resolve) => { timer = setTimeout(() => resolve('stuck'), timeoutMs); });
    try {
      while (this.#writing !== undefined) {
        if (await Promise.race([this.#writing, stuck]) === 'stuck') {
          const left = this.#queue.length + this.#inFlight;
          this.#queue = [];
          this.#inFlight = 0;
          this.#gaveUp = true;
          if (left > 0) auditDroppedTotal.inc({ reason: 'write_error' }, left);
          this.#logger.error({ output: this.#where(), dropped: left }, 'audit log: the output did not take the last lines before shutdown; they are dropped');
          return;
        }
      }
    } finally {
      clearTimeout(timer);
    }
    const file = this.#file;
    this.#file = undefined;
    await file?.close().catch(() => undefined);
  }

  async #drain(): Promise<void> {
    // Not re-entered: one batch at a time, in order.
    await Promise.resolve();
    try {
      while (this.#queue.length > 0) {
        const batch = this.#takeBatch();
        this.#inFlight = batch.length;
        try {
          await this.#writeBatch(batch);
          this.#inFlight = 0;
          if (this.#failing) this.#logger.info({ output: this.#where() }, 'audit log: writing again');
          this.#failing = false;
        } catch (err) {
          this.#inFlight = 0;
          // Once close() gave up, these lines were counted already.
          if (!this.#gaveUp) auditDroppedTotal.inc({ reason: 'write_error' }, batch.length);
          if (!this.#failing) {
            this.#logger.error({ output: this.#where(), err: { code: (err as NodeJS.ErrnoException).code, message: (err as Error).message } },
              'audit log: write failed; lines are dropped and counted (kestra_authz_audit_dropped_total) until a write succeeds');
          }
          this.#failing = true;
          const file = this.#file;
          this.#file = undefined;
          await file?.close().catch(() => undefined);
        }
      }
    } finally {
      this.#writing = undefined;
      // A write that finished after close() gave up on it: nothing will use the file again.
      if (this.#gaveUp && this.#file !== undefined) {
        const file = this.#file;
        this.#file = undefined;
        void file.close().catch(() => undefined);
      }
    }
  }

  #where(): string {
    return this.#options.output;
  }

  /** Lines from the head of the queue, up to the batch limit (at least one). */
  #takeBatch(): string[] {
    const limit = this.#options.output === 'stdout' ? PIPE_BUF : MAX_BATCH_BYTES;
    let bytes = 0;
    let n = 0;
    while (n < this.#queue.length) {
      const size = Buffer.byteLength(this.#queue[n]!);
      if (n > 0 && bytes + size > limit) break;
      bytes += size;
      n++;
    }
    return this.#queue.splice(0, n);
  }

  async #writeBatch(lines: string[]): Promise<void> {
    if (this.#options.output === 'stdout') {
      await writeAll(lines.join(''));
      return;
    }
    // Runs of lines that fit the current file; rotate between runs.
    let run: string[] = [];
    let runBytes = 0;
    for (const line of lines) {
      const size = Buffer.byteLength(line);
      const file = await this.#openFile();
      if (this.#size + runBytes + size > this.#options.maxSizeBytes && this.#size + runBytes > 0) {
        if (run.length > 0) await this.#append(file, run.join(''), runBytes);
        run = [];
        runBytes = 0;
        await this.#rotate();
        await this.#openFile();
      }
      run.push(line);
      runBytes += size;
    }
    if (run.length > 0) await this.#append(await this.#openFile(), run.join(''), runBytes);
  }

  async #append(file: FileHandle, text: string, bytes: number): Promise<void> {
    await file.write(text);
    this.#size += bytes;
  }

  async #openFile(): Promise<FileHandle> {
    if (this.#file !== undefined) return this.#file;
    const file = await open(this.#options.output, 'a', 0o640);
    try {
      this.#size = (await file.stat()).size;
    } catch (err) {
      await file.close().catch(() => undefined);
      throw err;
    }
    this.#file = file;
    return file;
  }

  /** file.N-2 → file.N-1, …, file → file.1; with max-files 1 the file starts over. */
  async #rotate(): Promise<void> {
    const base = this.#options.output;
    const file = this.#file;
    this.#file = undefined;
    this.#size = 0;
    await file?.close();
    const keep = this.#options.maxFiles;
    if (keep <= 1) {
      await rm(base, { force: true });
      return;
    }
    await rm(`${base}.${keep - 1}`, { force: true });
    for (let i = keep - 2; i >= 1; i--) await renameIfPresent(`${base}.${i}`, `${base}.${i + 1}`);
    await renameIfPresent(base, `${base}.1`);
  }
}

async function renameIfPresent(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/** fd 1 through the thread pool: a full pipe holds one pool thread, never the event loop. */
async function writeAll(text: string): Promise<void> {
  let buf = Buffer.from(text);
  while (buf.length > 0) {
    try {
      const { bytesWritten } = await writeFd(STDOUT_FD, buf);
      buf = buf.subarray(bytesWritten);
    } catch (err) {
      // A non-blocking pipe that is full: wait for the reader; new lines queue (and drop past the bound) meanwhile.
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      await sleep(STDOUT_RETRY_MS);
    }
  }
}
