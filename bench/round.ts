/** `value` rounded to `digits` decimals, for the numbers the bench reports. */
export function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
