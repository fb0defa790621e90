/**
 * Many distinct, valid, fixed-length RS256 tokens in a file, minted once by
 * worker threads (one per core) with the bench issuer's key and kept in
 * bench/results/ for later runs (`soak-tokens-<family>-<count>.bin`, tokens
 * back to back, + a `.json` with their length and expiry). A million take
 * about two minutes on two idle cores and ~850 MB of disk.
 */
import { createPrivateKey, sign } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, readSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { BENCH_AUDIENCE, BENCH_ISSUER, loadOrCreateKey } from './bench-issuer.js';
import { tokenFor, type MintJob } from './soak-token-worker.js';

export interface TokenFile {
  readonly path: string;
  readonly count: number;
  readonly tokenLength: number;
  /** The first token, as a string (to build the frame template). */
  readonly first: string;
}

interface TokenFileMeta {
  readonly kid: string;
  readonly count: number;
  readonly tokenLength: number;
  readonly exp: number;
  readonly group: string;
  readonly version: number;
}

const VERSION = 1;
const LIFETIME_S = 365 * 24 * 3600;
const MIN_REMAINING_S = 7 * 24 * 3600;
const TOKENS_PER_JOB = 5000;

export async function distinctTokens(resultsDir: string, family: string, group: string, count: number,
  log: (line: string) => void): Promise<TokenFile> {
  const key = await loadOrCreateKey(resultsDir);
  const path = join(resultsDir, `soak-tokens-${family}-${count}.bin`);
  const metaPath = `${path}.json`;
  if (existsSync(path) && existsSync(metaPath)) {
    const meta = JSON.parse(readFileSync(metaPath, 'utf8')) as TokenFileMeta;
    if (meta.version === VERSION && meta.kid === key.kid && meta.count === count && meta.group === group
      && meta.exp - Date.now() / 1000 > MIN_REMAINING_S) {
      return { path, count, tokenLength: meta.tokenLength, first: readFirst(path, meta.tokenLength) };
    }
  }
  const iat = Math.floor(Date.now() / 1000);
  const base: Omit<MintJob, 'from' | 'to'> = {
    jwk: key.privateJwk as MintJob['jwk'], kid: key.kid, issuer: BENCH_ISSUER, audience: BENCH_AUDIENCE, group, family,
    iat, exp: iat + LIFETIME_S, tokenLength: 0,
  };
  const probeKey = createPrivateKey({ key: base.jwk, format: 'jwk' });
  const tokenLength = tokenFor({ ...base, from: 0, to: 1 }, 0, (d) => sign('sha256', Buffer.from(d), probeKey).toString('base64url')).length;
  const job = { ...base, tokenLength };

  log(`minting ${count.toLocaleString('en-US')} RS256 tokens (${family}) into ${path}`);
  const started = Date.now();
  const partial = `${path}.partial`;
  const fd = openSync(partial, 'w', 0o600);
  try {
    const workers = Array.from({ length: Math.max(1, availableParallelism()) }, () => new Worker(new URL('./soak-token-worker.js', import.meta.url)));
    try {
      let nextFrom = 0;
      let written = 0;
      const run = async (worker: Worker) => {
        while (nextFrom < count) {
          const from = nextFrom;
          const to = Math.min(count, from + TOKENS_PER_JOB);
          nextFrom = to;
          const bytes = await new Promise<Buffer>((resolve, reject) => {
            const onMessage = (data: Uint8Array) => {
              worker.off('error', reject);
              resolve(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
            };
            worker.once('message', onMessage);
            worker.once('error', reject);
            worker.postMessage({ ...job, from, to } satisfies MintJob);
          });
          writeSync(fd, bytes, 0, bytes.length, from * tokenLength);
          written += to - from;
          if (written % 100_000 < TOKENS_PER_JOB) log(`  minted ${written.toLocaleString('en-US')}/${count.toLocaleString('en-US')}`);
        }
      };
      await Promise.all(workers.map(run));
    } finally {
      await Promise.all(workers.map((w) => w.terminate()));
    }
  } finally {
    closeSync(fd);
  }
  renameSync(partial, path);
  const meta: TokenFileMeta = { kid: key.kid, count, tokenLength, exp: job.exp, group, version: VERSION };
  writeFileSync(metaPath, JSON.stringify(meta), { mode: 0o600 });
  log(`  minted in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return { path, count, tokenLength, first: readFirst(path, tokenLength) };
}

function readFirst(path: string, tokenLength: number): string {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(tokenLength);
    readSyncFully(fd, buf);
    return buf.toString('latin1');
  } finally {
    closeSync(fd);
  }
}

function readSyncFully(fd: number, buf: Buffer): void {
  let at = 0;
  while (at < buf.length) {
    const n = readSync(fd, buf, at, buf.length - at, at);
    if (n === 0) throw new Error('token file shorter than one token');
    at += n;
  }
}
