/**
 * Every numeric flag of every command is checked before the command runs: yargs turns `--join-timeout abc`
 * into NaN (and a repeated flag into an array), which would flow on as a wait that never ends or a port
 * that is no port. Each flag must be one finite number; those with a meaning of their own also a range.
 * Flags that set the run config are range-checked again by its schema (errors naming the config field).
 */

export interface NumberRange {
  min?: number;
  /** min itself is not allowed. */
  minExclusive?: boolean;
  max?: number;
  integer?: boolean;
  /** e.g. "seconds" — in the message. */
  unit?: string;
}

/** Ranges of the flags whose values are used directly (not through the run config). */
export const FLAG_RANGES: Record<string, NumberRange> = {
  'join-timeout': { min: 0, minExclusive: true, max: 1e7, unit: 'seconds' },
  'lease-ms': { min: 300, max: 3_600_000, integer: true, unit: 'ms' },
  'heartbeat-timeout': { min: 0, minExclusive: true, max: 86_400, unit: 'seconds' },
  port: { min: 0, max: 65_535, integer: true },
  'stop-grace': { min: 0, max: 86_400, unit: 'seconds' },
  'stall-grace': { min: 1, max: 604_800, unit: 'seconds' },
  'leave-grace': { min: 0, max: 86_400, unit: 'seconds' },
  'gpu-count': { min: 1, max: 1024, integer: true },
  peer: { min: 0, max: 1023, integer: true },
  step: { min: 0, integer: true },
  'progress-every': { min: 0, max: 86_400, unit: 'seconds' },
};

/** The text given for `--flag` on the command line (the last one), for the message. */
function rawValue(argv: readonly string[], flag: string): string | undefined {
  let found: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === `--${flag}`) found = argv[i + 1];
    else if (argv[i].startsWith(`--${flag}=`)) found = argv[i].slice(flag.length + 3);
  }
  return found;
}

const describe = (r: NumberRange): string => {
  const kind = r.integer ? 'an integer' : 'a number';
  const lo = r.min === undefined ? '' : `${r.minExclusive ? '>' : '>='} ${r.min}`;
  const hi = r.max === undefined ? '' : `<= ${r.max}`;
  const bounds = [lo, hi].filter(Boolean).join(' and ');
  return `${kind}${bounds ? ` ${bounds}` : ''}${r.unit ? ` (${r.unit})` : ''}`;
};

/** Throws an Error naming the flag when `value` is not one finite number in `range`. */
export function checkNumericFlag(
  flag: string,
  value: unknown,
  range: NumberRange = {},
  raw?: string,
): number {
  const got = raw !== undefined ? `"${raw.slice(0, 60)}"` : JSON.stringify(value);
  if (Array.isArray(value)) throw new Error(`--${flag} was given ${value.length} times: give it once`);
  const ok =
    typeof value === 'number' &&
    Number.isFinite(value) &&
    (!range.integer || Number.isInteger(value)) &&
    (range.min === undefined || (range.minExclusive ? value > range.min : value >= range.min)) &&
    (range.max === undefined || value <= range.max);
  if (!ok) throw new Error(`--${flag} must be ${describe(range)} (got ${got})`);
  return value as number;
}

/**
 * Checks every option yargs parsed as a number (`numberKeys`: its getOptions().number) that was given.
 * Only kebab-case names are checked (yargs also sets camelCase aliases of the same value).
 */
export function checkNumericFlags(
  args: Record<string, unknown>,
  numberKeys: readonly string[],
  argv: readonly string[],
): void {
  for (const flag of numberKeys) {
    if (/[A-Z]/.test(flag) || args[flag] === undefined) continue;
    checkNumericFlag(flag, args[flag], FLAG_RANGES[flag], rawValue(argv, flag));
  }
}
