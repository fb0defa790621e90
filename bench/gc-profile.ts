/**
 * What a server allocates and collects while it is loaded, from V8's own GC
 * profiler (node:v8 GCProfiler): bytes allocated (heap used before each GC
 * minus heap used after the previous one, summed), the allocation rate over
 * the profile's span, and scavenges / mark-compacts with their pause times.
 * Used to size `--max-semi-space-size` from a measured allocation rate
 * (bench/README.md, "tail latency").
 *
 * A bench server writes one when started with BENCH_GC_REPORT=PREFIX in its
 * environment (real-server.ts): PREFIX-<pid>.json when it is stopped.
 */
import { writeFileSync } from 'node:fs';
import { GCProfiler } from 'node:v8';

interface GcEntry {
  readonly gcType: string;
  readonly cost: number;
  readonly beforeGC: { readonly heapStatistics: { readonly usedHeapSize: number } };
  readonly afterGC: { readonly heapStatistics: { readonly usedHeapSize: number } };
}

export interface GcSummary {
  readonly spanS: number;
  readonly allocatedMB: number;
  readonly allocationMBPerS: number;
  /** Per GC type (Scavenge, MarkSweepCompact, …): count, total and max pause in ms. */
  readonly byType: Readonly<Record<string, { count: number; totalMs: number; maxMs: number }>>;
}

export function summarizeGc(statistics: readonly GcEntry[], spanMs: number): GcSummary {
  let allocated = 0;
  let previousAfter: number | undefined;
  const byType: Record<string, { count: number; totalMs: number; maxMs: number }> = {};
  for (const gc of statistics) {
    const before = gc.beforeGC.heapStatistics.usedHeapSize;
    if (previousAfter !== undefined && before > previousAfter) allocated += before - previousAfter;
    previousAfter = gc.afterGC.heapStatistics.usedHeapSize;
    const pauseMs = gc.cost / 1000;
    const entry = (byType[gc.gcType] ??= { count: 0, totalMs: 0, maxMs: 0 });
    entry.count++;
    entry.totalMs = Math.round((entry.totalMs + pauseMs) * 100) / 100;
    entry.maxMs = Math.max(entry.maxMs, Math.round(pauseMs * 100) / 100);
  }
  const spanS = spanMs / 1000;
  const allocatedMB = allocated / 2 ** 20;
  return { spanS: Math.round(spanS * 10) / 10, allocatedMB: Math.round(allocatedMB), allocationMBPerS: Math.round((allocatedMB / spanS) * 10) / 10, byType };
}

/** Starts profiling when BENCH_GC_REPORT is set; the returned function writes the summary (call it on shutdown). */
export function gcReportFromEnv(env: NodeJS.ProcessEnv = process.env): (() => void) | undefined {
  const prefix = env.BENCH_GC_REPORT;
  if (!prefix) return undefined;
  const profiler = new GCProfiler();
  profiler.start();
  return () => {
    const result = profiler.stop() as unknown as { startTime: number; endTime: number; statistics: GcEntry[] };
    const summary = summarizeGc(result.statistics, result.endTime - result.startTime);
    writeFileSync(`${prefix}-${process.pid}.json`, `${JSON.stringify(summary)}\n`);
  };
}
