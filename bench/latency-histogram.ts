/**
 * A fixed-size log-linear latency histogram (HdrHistogram's idea, small):
 * values in 0.1 µs units, exact below 25.6 µs, then 128 sub-buckets per
 * power of two (< 0.8 % relative error) up to ~214 s. Recording is O(1) and
 * allocation-free, so the generator's own cost stays flat however long it runs.
 */

const UNITS_PER_MS = 10_000;           // 0.1 µs resolution
const LINEAR_LIMIT = 256;               // values below this get their own bucket
const SUB_BUCKETS = 128;                // per power of two above the linear range
const MAX_EXPONENT = 30;                // 2^31 units ≈ 214 s; larger values are clamped
const BUCKETS = LINEAR_LIMIT + (MAX_EXPONENT - 8 + 1) * SUB_BUCKETS;
const MAX_UNITS = 2 ** (MAX_EXPONENT + 1) - 1;

export interface LatencySummary {
  readonly count: number;
  readonly meanMs: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
}

function bucketOf(units: number): number {
  if (units < LINEAR_LIMIT) return units;
  const exponent = 31 - Math.clz32(units);          // ≥ 8
  const shift = exponent - 7;
  const mantissa = units >>> shift;                  // 128..255
  return LINEAR_LIMIT + (exponent - 8) * SUB_BUCKETS + (mantissa - SUB_BUCKETS);
}

/** Middle of a bucket's range, in units: what a percentile reports. */
function bucketMiddle(bucket: number): number {
  if (bucket < LINEAR_LIMIT) return bucket;
  const offset = bucket - LINEAR_LIMIT;
  const exponent = Math.floor(offset / SUB_BUCKETS) + 8;
  const shift = exponent - 7;
  const mantissa = (offset % SUB_BUCKETS) + SUB_BUCKETS;
  return mantissa * 2 ** shift + (2 ** shift - 1) / 2;
}

export class LatencyHistogram {
  private readonly counts = new Float64Array(BUCKETS);
  private total = 0;
  private sumUnits = 0;
  private maxUnits = 0;

  /** Records one latency given in milliseconds (e.g. a difference of performance.now()). */
  record(ms: number): void {
    let units = Math.round(ms * UNITS_PER_MS);
    if (!(units >= 0)) units = 0;                    // also catches NaN
    if (units > MAX_UNITS) units = MAX_UNITS;
    this.counts[bucketOf(units)]!++;
    this.total++;
    this.sumUnits += units;
    if (units > this.maxUnits) this.maxUnits = units;
  }

  get count(): number {
    return this.total;
  }

  reset(): void {
    this.counts.fill(0);
    this.total = 0;
    this.sumUnits = 0;
    this.maxUnits = 0;
  }

  /** The latency at quantile q (0 < q ≤ 1), in ms; 0 when empty. */
  quantileMs(q: number): number {
    if (this.total === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.total));
    let seen = 0;
    for (let bucket = 0; bucket < BUCKETS; bucket++) {
      seen += this.counts[bucket]!;
      if (seen >= rank) return Math.min(bucketMiddle(bucket), this.maxUnits) / UNITS_PER_MS;
    }
    return this.maxUnits / UNITS_PER_MS;
  }

  summary(): LatencySummary {
    const round = (ms: number) => Math.round(ms * 1000) / 1000;
    return {
      count: this.total,
      meanMs: round(this.total ? this.sumUnits / this.total / UNITS_PER_MS : 0),
      p50Ms: round(this.quantileMs(0.5)),
      p90Ms: round(this.quantileMs(0.9)),
      p99Ms: round(this.quantileMs(0.99)),
      p999Ms: round(this.quantileMs(0.999)),
      maxMs: round(this.maxUnits / UNITS_PER_MS),
    };
  }
}
