/**
 * gRPC unary framing for the load generators: a message is sent as a frame
 * of 1 byte "compressed" flag (0), a 4-byte big-endian length, then the
 * protobuf bytes. A frames file is such frames back to back, so a file of
 * one frame is exactly the body h2load posts with `-d`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { MethodDefinition } from '@grpc/proto-loader';
import { AUTHORIZATION_SERVICE, loadExtAuthzDefinition } from '../src/server/envoy-protos.js';
import { BenchError } from './bench-error.js';

export const CHECK_PATH = `/${AUTHORIZATION_SERVICE}/Check`;
const PREFIX_BYTES = 5;
/** Largest message a frames file may hold; Check requests are a few KB. */
const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

export function encodeFrame(message: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(PREFIX_BYTES + message.length);
  frame[0] = 0;
  frame.writeUInt32BE(message.length, 1);
  frame.set(message, PREFIX_BYTES);
  return frame;
}

/**
 * The message inside one received gRPC frame, or null when the bytes are not
 * exactly one uncompressed frame (the generator counts that as an error).
 */
export function messageOfFrame(body: Buffer): Buffer | null {
  if (body.length < PREFIX_BYTES || body[0] !== 0) return null;
  const length = body.readUInt32BE(1);
  if (body.length !== PREFIX_BYTES + length) return null;
  return body.subarray(PREFIX_BYTES);
}

export function writeFramesFile(path: string, frames: readonly Buffer[]): void {
  writeFileSync(path, Buffer.concat(frames));
}

/** Splits a frames file back into frames; rejects anything that is not whole frames. */
export function readFramesFile(path: string): Buffer[] {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new BenchError('ERR_BENCH_FRAMES', `cannot read frames file ${path}`, { cause: err });
  }
  const frames: Buffer[] = [];
  let at = 0;
  while (at < bytes.length) {
    if (bytes.length - at < PREFIX_BYTES) throw new BenchError('ERR_BENCH_FRAMES', `${path}: truncated frame prefix at byte ${at}`);
    if (bytes[at] !== 0) throw new BenchError('ERR_BENCH_FRAMES', `${path}: frame at byte ${at} is flagged compressed`);
    const length = bytes.readUInt32BE(at + 1);
    if (length > MAX_MESSAGE_BYTES) throw new BenchError('ERR_BENCH_FRAMES', `${path}: frame at byte ${at} claims ${length} bytes`);
    const end = at + PREFIX_BYTES + length;
    if (end > bytes.length) throw new BenchError('ERR_BENCH_FRAMES', `${path}: truncated frame at byte ${at}`);
    frames.push(bytes.subarray(at, end));
    at = end;
  }
  if (frames.length === 0) throw new BenchError('ERR_BENCH_FRAMES', `${path}: no frames`);
  return frames;
}

/** What a decoded CheckResponse looks like to the bench (proto-loader, snake_case). */
export interface CheckResponseSeen {
  status?: { code?: number };
  denied_response?: { status?: { code?: number } };
  ok_response?: { headers?: { header?: { key?: string; value?: string } }[] };
}

export interface CheckCodec {
  serializeRequest(request: object): Buffer;
  deserializeResponse(message: Buffer): CheckResponseSeen;
}

/** Envoy's Check codec from the very definition the service loads. */
export function checkCodec(): CheckCodec {
  const service = loadExtAuthzDefinition()[AUTHORIZATION_SERVICE] as unknown as Record<string, MethodDefinition<object, CheckResponseSeen>>;
  const check = service.Check;
  if (!check) throw new BenchError('ERR_BENCH_FRAMES', `${AUTHORIZATION_SERVICE} has no Check method`);
  return {
    serializeRequest: (request) => check.requestSerialize(request),
    deserializeResponse: (message) => check.responseDeserialize(message),
  };
}
