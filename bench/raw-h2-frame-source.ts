/**
 * Where the raw generator's request bodies come from, one gRPC frame per
 * request, without allocating per request:
 * - `cycle`: a list of pre-encoded frames, round robin (a frames file);
 * - `tokens`: one pre-encoded frame whose bearer token is overwritten in
 *   place from a file of fixed-length tokens, read in small blocks — so a
 *   run can send a million never-seen tokens without holding them in memory;
 * - `mix`: several named sources interleaved by weight (smooth weighted
 *   round robin, deterministic), each request tagged with its source so the
 *   generator can count answers per kind.
 *
 * A mix file (JSON) describes the sources:
 *   { "sources": [
 *       { "name": "cached", "weight": 80, "frames": "cached.bin" },
 *       { "name": "new-token", "weight": 5, "template": "t.bin", "tokenOffset": 412,
 *         "tokens": "tokens.bin", "tokenLength": 835, "first": 0, "count": 150000 } ] }
 * `template` is a frames file of one frame in which the token occupies
 * [tokenOffset, tokenOffset + tokenLength); `tokens` is tokens back to back.
 */
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { BenchError } from './bench-error.js';
import { readFramesFile } from './grpc-frames.js';

export interface FrameSource {
  /** The next request body. Valid until the next call (it may be a reused buffer). */
  next(): Buffer;
  /** Index into `names` of the source the last next() came from. */
  readonly lastKind: number;
  readonly names: readonly string[];
  /** Tokens sources only: how many times a token file was used up and started over (never-seen no longer holds). */
  readonly wraps: number;
  close(): void;
}

export function cycleSource(frames: readonly Buffer[], name = 'frames'): FrameSource {
  if (frames.length === 0) throw new BenchError('ERR_BENCH_FRAMES', 'raw-h2: no frames to send');
  let index = 0;
  return {
    next() {
      const frame = frames[index]!;
      index = index + 1 === frames.length ? 0 : index + 1;
      return frame;
    },
    lastKind: 0,
    names: [name],
    wraps: 0,
    close() { /* nothing held */ },
  };
}

export interface TokenSourceInit {
  readonly name: string;
  /** One gRPC frame carrying a token of exactly tokenLength bytes at tokenOffset. */
  readonly template: Buffer;
  readonly tokenOffset: number;
  readonly tokenLength: number;
  readonly tokensFile: string;
  /** First token (index) to use and how many; the source starts over after `count`. */
  readonly first: number;
  readonly count: number;
}

/** Tokens read per block: small enough that one read barely shows as send lag. */
const TOKENS_PER_READ = 256;

export function tokenSource(init: TokenSourceInit): FrameSource {
  const { tokenOffset, tokenLength, first, count } = init;
  if (tokenOffset + tokenLength > init.template.length) throw new BenchError('ERR_BENCH_FRAMES', `${init.name}: token lies outside the template`);
  if (count < 1) throw new BenchError('ERR_BENCH_FRAMES', `${init.name}: count must be ≥ 1`);
  const frame = Buffer.from(init.template);     // private copy: overwritten per request
  const fd = openSync(init.tokensFile, 'r');
  const block = Buffer.allocUnsafe(TOKENS_PER_READ * tokenLength);
  let used = 0;               // tokens handed out since the last wrap
  let blockTokens = 0;
  let blockIndex = 0;
  let wraps = 0;
  const refill = () => {
    if (used === count) { used = 0; wraps++; }
    const want = Math.min(TOKENS_PER_READ, count - used);
    const bytes = readSync(fd, block, 0, want * tokenLength, (first + used) * tokenLength);
    if (bytes !== want * tokenLength) throw new BenchError('ERR_BENCH_FRAMES', `${init.name}: ${init.tokensFile} holds fewer than ${first + count} tokens`);
    blockTokens = want;
    blockIndex = 0;
  };
  return {
    next() {
      if (blockIndex === blockTokens) refill();
      block.copy(frame, tokenOffset, blockIndex * tokenLength, (blockIndex + 1) * tokenLength);
      blockIndex++;
      used++;
      return frame;
    },
    lastKind: 0,
    names: [init.name],
    get wraps() { return wraps; },
    close() { closeSync(fd); },
  };
}

export interface WeightedSource {
  readonly source: FrameSource;
  readonly weight: number;
}

/** Interleaves sources by weight: over any window, each gets its share to within one request. */
export function mixSource(parts: readonly WeightedSource[]): FrameSource {
  const weights = parts.map((p) => p.weight);
  const total = weights.reduce((a, b) => a + b, 0);
  if (!(total > 0) || weights.some((w) => !(w >= 0))) throw new BenchError('ERR_BENCH_USAGE', 'raw-h2: mix weights must be ≥ 0 and not all 0');
  const current = new Float64Array(parts.length);
  let lastKind = 0;
  return {
    next() {
      let best = 0;
      for (let i = 0; i < parts.length; i++) {
        current[i]! += weights[i]!;
        if (current[i]! > current[best]!) best = i;
      }
      current[best]! -= total;
      lastKind = best;
      return parts[best]!.source.next();
    },
    get lastKind() { return lastKind; },
    names: parts.map((p) => p.source.names[0]!),
    get wraps() { return parts.reduce((sum, p) => sum + p.source.wraps, 0); },
    close() { for (const p of parts) p.source.close(); },
  };
}

interface MixFileSource {
  readonly name?: unknown;
  readonly weight?: unknown;
  readonly frames?: unknown;
  readonly template?: unknown;
  readonly tokenOffset?: unknown;
  readonly tokenLength?: unknown;
  readonly tokens?: unknown;
  readonly first?: unknown;
  readonly count?: unknown;
}

export interface MixFile {
  readonly sources: readonly {
    readonly name: string;
    readonly weight: number;
    readonly frames?: string;
    readonly template?: string;
    readonly tokenOffset?: number;
    readonly tokenLength?: number;
    readonly tokens?: string;
    readonly first?: number;
    readonly count?: number;
  }[];
}

/** Opens the sources a mix file describes (see the module comment). */
export function readMixFile(path: string): FrameSource {
  let parsed: { sources?: MixFileSource[] };
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8')) as { sources?: MixFileSource[] };
  } catch (err) {
    throw new BenchError('ERR_BENCH_USAGE', `cannot read mix file ${path}`, { cause: err });
  }
  if (!Array.isArray(parsed.sources) || parsed.sources.length === 0) throw new BenchError('ERR_BENCH_USAGE', `${path}: "sources" must be a non-empty list`);
  const num = (v: unknown, what: string) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new BenchError('ERR_BENCH_USAGE', `${path}: ${what} must be an integer ≥ 0`);
    return v;
  };
  const parts = parsed.sources.map((s, i): WeightedSource => {
    const name = typeof s.name === 'string' ? s.name : `source${i}`;
    const weight = typeof s.weight === 'number' ? s.weight : Number.NaN;
    if (typeof s.frames === 'string') return { weight, source: cycleSource(readFramesFile(s.frames), name) };
    if (typeof s.template === 'string' && typeof s.tokens === 'string') {
      const [template] = readFramesFile(s.template);
      return {
        weight,
        source: tokenSource({
          name, template: template!, tokensFile: s.tokens,
          tokenOffset: num(s.tokenOffset, `${name}.tokenOffset`), tokenLength: num(s.tokenLength, `${name}.tokenLength`),
          first: num(s.first ?? 0, `${name}.first`), count: num(s.count, `${name}.count`),
        }),
      };
    }
    throw new BenchError('ERR_BENCH_USAGE', `${path}: source "${name}" needs "frames", or "template" and "tokens"`);
  });
  return mixSource(parts);
}
