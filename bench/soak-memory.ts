/**
 * The server's memory as the soak reports it: VmRSS from /proc/<pid>/status
 * (what the kernel charges), and from its own /metrics the V8 heap in use
 * and the resident size prom-client reports.
 */
import { readFileSync } from 'node:fs';

export interface MemorySample {
  /** Seconds since the soak's measured window began (negative: before it). */
  readonly atS: number;
  readonly label: string;
  readonly vmRssMb: number | null;
  readonly heapUsedMb: number | null;
  readonly residentMb: number | null;
}

const MB = 1024 * 1024;

export function vmRssMb(pid: number): number | null {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? round(Number(match[1]) / 1024) : null;
  } catch {
    return null;
  }
}

/** One Prometheus sample without labels, from text exposition; null when absent. */
export function metricValue(text: string, name: string): number | null {
  const match = new RegExp(`^${name}(?:\\{\\})? ([0-9.eE+-]+)`, 'm').exec(text);
  return match ? Number(match[1]) : null;
}

export async function sampleMemory(pid: number, managementPort: number, atS: number, label: string): Promise<MemorySample> {
  let text = '';
  try {
    const res = await fetch(`http://127.0.0.1:${managementPort}/metrics`, { signal: AbortSignal.timeout(5000) });
    text = await res.text();
  } catch {
    // A busy server may miss one scrape; the row says so with blanks.
  }
  const heap = metricValue(text, 'nodejs_heap_size_used_bytes');
  const resident = metricValue(text, 'process_resident_memory_bytes');
  return {
    atS: round(atS),
    label,
    vmRssMb: vmRssMb(pid),
    heapUsedMb: heap === null ? null : round(heap / MB),
    residentMb: resident === null ? null : round(resident / MB),
  };
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}
