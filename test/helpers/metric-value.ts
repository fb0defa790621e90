/** Reading one value of the service's metrics registry, to count what a test caused (before/after). */
import { registry } from '../../src/observability/metrics.js';

/** The value of metric `name` for the series whose labels include `labels`; 0 when there is none yet. */
export async function metricValue(name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return 0;
  const { values } = await metric.get();
  const found = values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val));
  return found?.value ?? 0;
}
