import { z } from 'zod';
import { ConfigError } from './errors';

/**
 * Run names and run ids: one path component of letters, digits, ".", "_" and "-", starting with a letter or
 * a digit, at most 128 characters. A name is the run's directory under outDir, so "." and ".." (the out
 * directory itself, its parent), path separators and hidden names are refused; an id is also part of Redis
 * keys (`mat:{<id>}:…`), where braces would change the key's hash slot.
 */
export const RUN_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export const RUN_NAME_RULE =
  'use 1 to 128 letters, digits, ".", "_" or "-", starting with a letter or a digit';

/** The zod schema of a run name (the config's `name`). */
export const runNameSchema = z.string().regex(RUN_NAME_PATTERN, {
  error: (issue) => `${JSON.stringify(issue.input)} is not a valid run name: ${RUN_NAME_RULE}`,
});

/** Throws a ConfigError naming `what` (e.g. "--run-id") unless `value` is a valid run name or id. */
export function checkRunName(value: string, what = 'run name'): string {
  if (!RUN_NAME_PATTERN.test(value)) {
    throw new ConfigError(`${what} ${JSON.stringify(value)} is not a valid run name: ${RUN_NAME_RULE}`);
  }
  return value;
}
