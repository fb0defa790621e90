/**
 * The node flags the service ships with: those `npm start` passes
 * (package.json), which the Dockerfile and the Kubernetes Deployment set as
 * NODE_OPTIONS too (test/deploy/heap-cap.test.ts holds the three equal).
 * Today that is the V8 heap cap: without it, V8 sizes the heap from the
 * machine's RAM and lets garbage pile up to hundreds of MB before collecting.
 * The soak starts its server with these unless told otherwise, so it
 * measures the service as users run it.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** package.json at the repository root (bench programs run compiled, from dist/bench/). */
const PACKAGE_JSON = resolve(dirname(fileURLToPath(import.meta.url)), '../../package.json');

/** The `node …` flags between `node` and `bin/kestra-authz.js serve` in the start script. */
export function shippedNodeFlags(startScript?: string): string[] {
  const script = startScript ?? (JSON.parse(readFileSync(PACKAGE_JSON, 'utf8')) as { scripts: { start: string } }).scripts.start;
  const launch = /(?:^|&&\s*)node((?:\s+--\S+)*)\s+bin\/kestra-authz\.js\s+serve\b/.exec(script);
  if (!launch) throw new Error(`package.json "start" does not run "node [flags] bin/kestra-authz.js serve": ${script}`);
  return launch[1]!.split(/\s+/).filter(Boolean);
}
