/**
 * A metric for display, read back from JSON: a number with `digits` decimals; null as NaN (JSON writes NaN
 * and ±Infinity as null, so a diverged loss comes back as null and must never show as 0); "?" when absent.
 */
export function formatMetric(value: unknown, digits: number, scale = 1): string {
  if (value === null) return 'NaN';
  if (typeof value !== 'number') return '?';
  return Number.isFinite(value) ? (value * scale).toFixed(digits) : String(value);
}
