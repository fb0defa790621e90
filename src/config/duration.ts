/**
 * Durations as Kestra/Micronaut operators write them: ISO-8601 (`P2D`,
 * `PT5M`, `PT1H30M`, `PT0.5S` — what `java.time.Duration.parse` accepts),
 * Micronaut's short forms (`500ms`, `30s`, `5m`, `2h`, `1d`), or a plain
 * number of seconds (`30`, `"30"`).
 */

const MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

// Days, then T + hours / minutes / (fractional) seconds. Years and months are
// rejected on purpose: their length is not fixed, Java's Duration refuses them too.
const ISO_8601 = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d{1,9})?)S)?)?$/i;
const SHORT_FORM = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/i;
const PLAIN_SECONDS = /^\d+(?:\.\d+)?$/;

/**
 * Milliseconds for a duration value, or undefined when it is not a duration
 * (negative, empty, unknown unit, `P` with nothing after it…). Callers turn
 * undefined into a config problem naming the key.
 */
export function parseDurationMs(value: unknown): number | undefined {
  if (typeof value === 'number') {
    return Number.isFinite(value) && value >= 0 ? Math.round(value * 1_000) : undefined;
  }
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  if (PLAIN_SECONDS.test(text)) return Math.round(Number(text) * 1_000);
  const short = SHORT_FORM.exec(text);
  if (short) {
    const unit = short[2]!.toLowerCase() as keyof typeof MS;
    return Math.round(Number(short[1]) * MS[unit]);
  }
  return isoDurationMs(text);
}

function isoDurationMs(text: string): number | undefined {
  const iso = ISO_8601.exec(text);
  if (!iso) return undefined;
  const [, days, hours, minutes, seconds] = iso;
  // `P` alone and `PT` alone match the pattern but name no duration.
  if (days === undefined && hours === undefined && minutes === undefined && seconds === undefined) return undefined;
  if (/T$/i.test(text)) return undefined;
  return (
    Number(days ?? 0) * MS.d +
    Number(hours ?? 0) * MS.h +
    Number(minutes ?? 0) * MS.m +
    Math.round(Number(seconds ?? 0) * MS.s)
  );
}

/** Human-readable list of accepted forms, for problem messages. */
export const DURATION_FORMS = 'an ISO-8601 duration (PT5M, PT1H30M, P2D), 30s / 5m / 2h / 1d, or a number of seconds';
