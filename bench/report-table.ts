/**
 * The bench's printed report: Markdown tables (readable in a terminal and
 * pasteable into bench/README.md as they are).
 */
import type { LoadResult } from './load-types.js';
import type { H2loadResult } from './h2load-run.js';

export interface ScenarioRow {
  readonly id: string;
  readonly title: string;
  /** The run with the median req/s among the repeats. */
  readonly result: LoadResult;
  readonly repeats: readonly number[];
}

export interface H2loadRow {
  readonly id: string;
  readonly title: string;
  readonly result: H2loadResult;
  readonly repeats: readonly number[];
}

/** The element with the median value of `key` (the lower middle for an even count). */
export function medianBy<T>(items: readonly T[], key: (item: T) => number): T {
  const sorted = [...items].sort((a, b) => key(a) - key(b));
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

const int = (n: number) => Math.round(n).toLocaleString('en-US');
const ms = (n: number | null) => (n === null ? '–' : n < 10 ? n.toFixed(2) : n.toFixed(1));
const ratio = (n: number, base: number | undefined) => (base ? `${(n / base).toFixed(2)}×` : '–');
const pct = (n: number | null) => (n === null ? '–' : `${n.toFixed(n >= 99.95 || n === 0 ? 0 : 1)} %`);

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const align = header.map((_, i) => (i === 0 ? '---' : '---:'));
  return [header, align, ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

export function scenarioTable(rows: readonly ScenarioRow[]): string {
  const nullRps = rows.find((r) => r.id === 'null')?.result.rps;
  return table(
    ['scenario', 'Check/s', 'vs null', 'p50 ms', 'p90 ms', 'p99 ms', 'p99.9 ms', 'max ms', 'allowed', 'errors', 'server CPU', 'load CPU', 'other CPU'],
    rows.map(({ title, result: r, repeats }) => [
      repeats.length > 1 ? `${title} (median of ${repeats.map(int).join(' / ')})` : title,
      int(r.rps),
      ratio(r.rps, nullRps),
      ms(r.latency.p50Ms),
      ms(r.latency.p90Ms),
      ms(r.latency.p99Ms),
      ms(r.latency.p999Ms),
      ms(r.latency.maxMs),
      pct(r.allowPercent),
      String(Object.values(r.grpcErrors).reduce((a, b) => a + b, 0) + r.transportErrors + r.unfinished + r.dropped),
      pct(r.serverCpuPercent),
      pct(r.generatorCpuPercent),
      pct(r.otherCpuPercent),
    ]),
  );
}

export function h2loadTable(rows: readonly H2loadRow[]): string {
  const nullRps = rows.find((r) => r.id === 'null')?.result.rps;
  return table(
    ['scenario (h2load)', 'Check/s', 'vs null', 'mean ms', 'max ms', 'failed + errored'],
    rows.map(({ title, result: r, repeats }) => [
      repeats.length > 1 ? `${title} (median of ${repeats.map(int).join(' / ')})` : title,
      int(r.rps),
      ratio(r.rps, nullRps),
      ms(r.meanMs),
      ms(r.maxMs),
      String(r.failed + r.errored),
    ]),
  );
}

/** Lines warning about runs whose numbers do not mean what the table says. */
export function caveats(rows: readonly ScenarioRow[]): string[] {
  const out: string[] = [];
  for (const { title, result: r } of rows) {
    if (r.allowPercent < 99) out.push(`${title}: only ${r.allowPercent} % allowed — this run measures denials (${JSON.stringify(r.deniedByHttpStatus)}).`);
    if (r.sendLagP99Ms !== null && r.sendLagP99Ms > 1) {
      out.push(`${title}: the generator sent 1 % of requests more than ${r.sendLagP99Ms} ms late — its own delay is part of the latencies.`);
    }
    if (r.dropped > 0) out.push(`${title}: ${r.dropped} requests dropped — the server was far past saturation at ${r.targetRps} req/s.`);
    if (r.serverCpuPercent !== null && r.serverCpuPercent < 90 && r.targetRps === null) {
      out.push(`${title}: the server used ${r.serverCpuPercent} % of its core — not saturated; the generator or other processes limited this run.`);
    }
    if (r.otherCpuPercent !== null && r.otherCpuPercent > 10) {
      out.push(`${title}: other processes used ${r.otherCpuPercent} % of a core during the measurement — the machine was shared; rerun when it is idle.`);
    }
    if (Object.keys(r.grpcErrors).length || r.transportErrors) out.push(`${title}: errors ${JSON.stringify(r.grpcErrors)}, transport ${r.transportErrors}.`);
  }
  return out;
}
