/**
 * Reads a request body with a hard limit, for our own POST endpoints (login
 * form, form_post callback, logout). Never buffers more than the limit: a
 * declared Content-Length over it is refused before reading, and a streamed
 * body is cut off as soon as it passes it.
 */
import type { IncomingMessage } from 'node:http';

export type BodyErrorCode = 'ERR_BODY_TOO_LARGE' | 'ERR_BODY_ABORTED';

export class BodyReadError extends Error {
  readonly code: BodyErrorCode;
  /** HTTP status the door answers with. */
  readonly status: number;
  constructor(code: BodyErrorCode, message: string) {
    super(message);
    this.code = code;
    this.status = code === 'ERR_BODY_TOO_LARGE' ? 413 : 400;
    this.name = 'BodyReadError';
  }
}

/** Resolves with the body as UTF-8 text ('' when there is none). */
export function readBoundedBody(req: IncomingMessage, maxBytes: number): Promise<string> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > maxBytes) {
    return Promise.reject(new BodyReadError('ERR_BODY_TOO_LARGE', `request body over ${maxBytes} bytes`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (err: BodyReadError | null) => {
      if (done) return;
      done = true;
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onAborted);
      if (err) reject(err); else resolve(Buffer.concat(chunks, size).toString('utf8'));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        chunks.length = 0;
        // Stop reading; the door answers 413 and closes the connection.
        req.pause();
        finish(new BodyReadError('ERR_BODY_TOO_LARGE', `request body over ${maxBytes} bytes`));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => finish(null);
    const onError = () => finish(new BodyReadError('ERR_BODY_ABORTED', 'request body could not be read'));
    const onAborted = () => finish(new BodyReadError('ERR_BODY_ABORTED', 'client aborted the request body'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onAborted);
  });
}
