/**
 * The V8 heap cap is the same wherever the service is launched: `npm start`
 * (package.json), the image (Dockerfile NODE_OPTIONS) and the Kubernetes
 * Deployment (NODE_OPTIONS), and it sits well inside the pod's memory limit.
 * Without it V8 sizes the heap from the machine's RAM, and a bare `npm start`
 * on a large machine grew past 256 MB RSS after a million distinct tokens
 * (bench/README.md, "Memory"). The soak runs its server with these flags.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { shippedNodeFlags } from '../../bench/shipped-node-flags.js';
import { container } from './k8s-objects.js';
import { ROOT } from './manifests.js';

const MIB = 1024 * 1024;

function heapCapMb(flags: readonly string[]): number {
  const caps = flags.map((f) => /^--max-old-space-size=(\d+)$/.exec(f)).filter((m) => m !== null);
  assert.equal(caps.length, 1, `one --max-old-space-size in ${flags.join(' ')}`);
  return Number(caps[0]![1]);
}

function dockerfileNodeOptions(): string {
  const env = /^ENV NODE_OPTIONS=(.+)$/m.exec(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
  assert.ok(env, 'Dockerfile sets ENV NODE_OPTIONS=…');
  return env[1]!.trim();
}

/** Kubernetes quantities the Deployment uses for memory (Mi, Gi). */
function quantityBytes(quantity: string): number {
  const m = /^(\d+)(Mi|Gi)$/.exec(quantity);
  assert.ok(m, `memory quantity ${quantity} in Mi or Gi`);
  return Number(m[1]) * (m[2] === 'Gi' ? 1024 * MIB : MIB);
}

describe('the heap cap the service ships with', () => {
  const flags = shippedNodeFlags();

  test('npm start passes a heap cap', () => {
    assert.ok(heapCapMb(flags) >= 64, 'a cap the service can start in');
  });

  test('the image and the Deployment set the same flags as npm start', () => {
    assert.equal(dockerfileNodeOptions(), flags.join(' '));
    const env = (container.env ?? []).find((e: { name: string }) => e.name === 'NODE_OPTIONS');
    assert.equal(env?.value, flags.join(' '), 'deployment.yaml NODE_OPTIONS');
  });

  test('the cap leaves room under the pod memory limit for code, buffers and the young generation', () => {
    const limit = quantityBytes(container.resources.limits.memory);
    assert.ok(heapCapMb(flags) * MIB * 2 <= limit, `heap cap ${heapCapMb(flags)} MB vs limit ${container.resources.limits.memory}`);
  });

  test('node accepts the flags and caps the heap with them', () => {
    const limit = Number(execFileSync(process.execPath, [...flags, '-p', 'require("node:v8").getHeapStatistics().heap_size_limit'], {
      encoding: 'utf8',
      env: { ...process.env, NODE_OPTIONS: '' },
    }));
    // heap_size_limit = old space cap + the young generation V8 adds on top.
    assert.ok(limit >= heapCapMb(flags) * MIB && limit <= (heapCapMb(flags) + 64) * MIB, `heap_size_limit ${limit / MIB} MB`);
  });
});

describe('shippedNodeFlags reads the start script', () => {
  test('flags between node and the launcher, none, or a clear error', () => {
    assert.deepEqual(shippedNodeFlags('npm run build --silent && node --a=1 --b bin/kestra-authz.js serve'), ['--a=1', '--b']);
    assert.deepEqual(shippedNodeFlags('node bin/kestra-authz.js serve'), []);
    assert.throws(() => shippedNodeFlags('node dist/other.js'), /does not run "node \[flags\] bin\/kestra-authz\.js serve"/);
  });
});
