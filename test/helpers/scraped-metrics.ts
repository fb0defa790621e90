/**
 * Reading the metrics of a service in another process (or one only reachable
 * over HTTP): its management port's /metrics exposition text, and counters
 * summed from it. In-process tests read the registry (metric-value.ts).
 */

export async function scrapeMetrics(managementPort: number): Promise<string> {
  return (await fetch(`http://127.0.0.1:${managementPort}/metrics`)).text();
}

/** Sum of a metric over the series whose label text matches `labels`, from the exposition text (a metric without labels: its one line). */
export function seriesSum(text: string, name: string, labels: RegExp): number {
  return text.split('\n').filter((l) => (l.startsWith(`${name}{`) || l.startsWith(`${name} `)) && labels.test(l)).reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
}
