#!/usr/bin/env node
/**
 * Issue 18 put bench/README.md's current results first and moved every dated
 * section under "## History". This check proves nothing was lost: every
 * non-blank line of bench/README.md before the restructure appears in
 * today's file, compared without heading marks (a "## Results …" became
 * "### Results …").
 *
 *   node scripts/check-bench-readme-kept.mjs [GIT-REF]   (default: the commit before the restructure)
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const BEFORE = 'fd9f2f5';
const ref = process.argv[2] ?? BEFORE;
const normalize = (line) => line.trim().replace(/^#{1,6}\s+/, '');

const old = execFileSync('git', ['show', `${ref}:bench/README.md`], { encoding: 'utf8', maxBuffer: 1 << 26 });
const now = new Set(readFileSync('bench/README.md', 'utf8').split('\n').map(normalize));
/** Substrings of old lines updated on purpose since (a flag's documented default changed), and why. */
const REWRITTEN = [
  ['| `--only null,cached,cached-2w,unique` | these four |', 'issue 16 part 2: the default set gained forged and forged-replay'],
  ['| `--rps R` | — | open loop at R req/s instead of closed loop (h2load is then skipped) |', 'issue 16: the row now says why h2load is skipped (its --rps sends 10 ms bursts)'],
  ['| `--generator raw\\|http2` |', 'issue 16: grpc-load was removed (h2load and raw-h2-client cover it); the flag takes raw only'],
  ['node dist/bench/grpc-load.js --port N --frames FILE', 'issue 16: grpc-load was removed; raw-h2-client runs on its own with the same flags'],
  ['`run-check-bench` takes `--generator raw|http2`', 'issue 16: grpc-load was removed; the paragraph says raw-h2-client loads every scenario'],
  ['`--rps`** (open loop), `http2` (grpc-load) stays the default', 'the same paragraph'],
  ['closed-loop numbers remain comparable with the tables above. The open-loop', 'the same paragraph'],
  ['notes about grpc-load\'s send lag no longer apply to `--rps` runs.', 'the same paragraph'],
  ['- **grpc-load** (`grpc-load.ts`, `check-load.ts`) is built on `node:http2`,', 'issue 16: the bullet now says grpc-load was removed, and why its rows read low'],
];

const missing = [];
let checked = 0;
let rewritten = 0;
old.split('\n').forEach((line, i) => {
  if (line.trim() === '') return;
  checked++;
  if (now.has(normalize(line))) return;
  if (REWRITTEN.some(([part]) => line.includes(part))) { rewritten++; return; }
  missing.push(`${i + 1}: ${line}`);
});
console.log(`${ref}:bench/README.md — ${checked} non-blank lines; ${checked - rewritten - missing.length} found in bench/README.md, ${rewritten} updated on purpose, ${missing.length} missing`);
for (const m of missing) console.log(`  missing ${m}`);
process.exit(missing.length ? 1 : 0);
