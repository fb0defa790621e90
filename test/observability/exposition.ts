/**
 * Reading a Prometheus text exposition (what /metrics serves): each family's
 * declared TYPE, and the sample names with their series.
 */

export interface Exposition {
  /** Family name (as in `# TYPE`) → counter | gauge | histogram | summary | untyped. */
  readonly types: ReadonlyMap<string, string>;
  /** Sample name (`x_bucket`, `x_sum`, … for histograms) → its series, as `{labels}` text. */
  readonly samples: ReadonlyMap<string, readonly string[]>;
}

const SAMPLE = /^([A-Za-z_:][A-Za-z0-9_:]*)(\{.*\})?\s+(\S+)/;
const HISTOGRAM_SUFFIXES = ['_bucket', '_sum', '_count'] as const;

export function parseExposition(text: string): Exposition {
  const types = new Map<string, string>();
  const samples = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) {
      types.set(type[1]!, type[2]!);
      continue;
    }
    if (line.startsWith('#') || !line.trim()) continue;
    const sample = SAMPLE.exec(line);
    if (!sample) throw new Error(`not an exposition line: ${line}`);
    const series = samples.get(sample[1]!) ?? [];
    series.push(sample[2] ?? '{}');
    samples.set(sample[1]!, series);
  }
  return { types, samples };
}

/** The family a sample name belongs to, with its type: `x_bucket` → `x` when `x` is a histogram or summary. */
export function familyOf(exposition: Exposition, sampleName: string): { readonly name: string; readonly type: string } | undefined {
  const own = exposition.types.get(sampleName);
  if (own) return { name: sampleName, type: own };
  for (const suffix of HISTOGRAM_SUFFIXES) {
    if (!sampleName.endsWith(suffix)) continue;
    const base = sampleName.slice(0, -suffix.length);
    const type = exposition.types.get(base);
    if (type === 'histogram' || (type === 'summary' && suffix !== '_bucket')) return { name: base, type };
  }
  return undefined;
}

/** The sum of the series of `name` whose label text has every `key="value"` of `labels`; undefined when there is none. */
export function sampleValue(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  let sum: number | undefined;
  for (const line of text.split('\n')) {
    const sample = SAMPLE.exec(line);
    if (!sample || sample[1] !== name) continue;
    const labelText = sample[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => labelText.includes(`${k}="${v}"`))) sum = (sum ?? 0) + Number(sample[3]);
  }
  return sum;
}
