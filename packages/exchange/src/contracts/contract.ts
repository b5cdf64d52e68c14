import type { z } from 'zod';

/**
 * The one way a datum crosses a process boundary (Redis keys, streams, BullMQ jobs, exchange headers):
 * a zod schema per noun (the other files of this folder), encoded by every writer and decoded by every
 * reader through the helpers below. A datum that does not match is a ContractError naming what was read
 * (key, field, job) and every field that is wrong — never a crash from an unguarded JSON.parse and never a
 * value cast to a type it does not have.
 */

export class ContractError extends Error {
  override name = 'ContractError';
  constructor(
    /** What was read, e.g. `slot 2 of run r1 (mat:{r1}:slots)`. */
    readonly what: string,
    /** One line per problem: `field.path: message`. */
    readonly problems: string[],
  ) {
    super(`malformed ${what}: ${problems.join('; ')}`);
  }
}

/**
 * Keys JavaScript gives a meaning (`__proto__` becomes an own key under JSON.parse, which an assignment or
 * Object.assign would turn into a prototype). No contract has them; a datum holding one is refused.
 */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/** Larger JSON texts are refused before parsing (no contract comes close; a run config is a few KiB). */
export const MAX_JSON_BYTES = 1024 * 1024;

function problemsOf(error: z.ZodError): string[] {
  return error.issues.map((issue) => {
    const path = issue.path.length > 0 ? issue.path.map(String).join('.') : '(root)';
    return `${path}: ${issue.message}`;
  });
}

/** Checks `value` against `schema`; throws a ContractError naming `what` and every bad field. */
export function parseContract<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const forbidden = forbiddenKeyPath(value);
  if (forbidden) throw new ContractError(what, [`${forbidden}: forbidden key`]);
  const result = schema.safeParse(value);
  if (!result.success) throw new ContractError(what, problemsOf(result.error));
  return result.data;
}

/** The path of the first forbidden own key at any depth (typed arrays and Buffers are not walked). */
export function forbiddenKeyPath(value: unknown, path: string[] = [], depth = 0): string | undefined {
  if (typeof value !== 'object' || value === null || ArrayBuffer.isView(value) || depth > 64)
    return undefined;
  for (const key of Object.keys(value)) {
    if (FORBIDDEN_KEYS.has(key)) return [...path, key].join('.');
    const inner = forbiddenKeyPath((value as Record<string, unknown>)[key], [...path, key], depth + 1);
    if (inner) return inner;
  }
  return undefined;
}

/** Parses JSON text with a size bound and no forbidden key at any depth. */
export function parseJsonText(text: string, what: string, maxBytes = MAX_JSON_BYTES): unknown {
  if (typeof text !== 'string')
    throw new ContractError(what, [`(root): expected JSON text, got ${typeof text}`]);
  // A string's UTF-8 size is at most 3 bytes per UTF-16 unit; only long texts need the exact count.
  if (text.length * 3 > maxBytes && Buffer.byteLength(text, 'utf8') > maxBytes)
    throw new ContractError(what, [`(root): ${Buffer.byteLength(text, 'utf8')} bytes, at most ${maxBytes}`]);
  try {
    return JSON.parse(text, function (key, value: unknown) {
      if (FORBIDDEN_KEYS.has(key)) throw new ForbiddenKey(key);
      return value;
    });
  } catch (err) {
    if (err instanceof ForbiddenKey) throw new ContractError(what, [`${err.key}: forbidden key`]);
    throw new ContractError(what, [`(root): not JSON (${(err as Error).message})`]);
  }
}

class ForbiddenKey extends Error {
  constructor(readonly key: string) {
    super(key);
  }
}

/** JSON text -> the contract's value. */
export function decodeJson<S extends z.ZodType>(
  schema: S,
  text: string,
  what: string,
  maxBytes = MAX_JSON_BYTES,
): z.output<S> {
  return parseContract(schema, parseJsonText(text, what, maxBytes), what);
}

/** The contract's value -> JSON text; checked first, so a writer can never publish what readers refuse. */
export function encodeJson<S extends z.ZodType>(schema: S, value: z.input<S>, what: string): string {
  return JSON.stringify(parseContract(schema, value, what));
}

/**
 * Lets through at most `burst` reports per `intervalMs` (hostile input must not flood a log: 20,000 junk
 * messages are not 20,000 lines); take() says whether this one may be reported and how many were held back
 * since the last one that was. The clock is injectable for tests.
 */
export class RateLimit {
  private windowStart = -Infinity;
  private inWindow = 0;
  private held = 0;

  constructor(
    private readonly burst = 5,
    private readonly intervalMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** undefined: hold this one back; else the number held back before it (to mention in the report). */
  take(): number | undefined {
    const t = this.now();
    if (t - this.windowStart >= this.intervalMs) {
      this.windowStart = t;
      this.inWindow = 0;
    }
    if (this.inWindow >= this.burst) {
      this.held++;
      return undefined;
    }
    this.inWindow++;
    const held = this.held;
    this.held = 0;
    return held;
  }
}

/**
 * Counts data that a reader skips on purpose (a dashboard or a metrics reader must not stop at one bad
 * stream entry) and reports them through a RateLimit.
 */
export class SkipCounter {
  skipped = 0;

  constructor(
    private readonly report: (message: string) => void,
    private readonly limit = new RateLimit(),
  ) {}

  skip(reason: string): void {
    this.skipped++;
    const held = this.limit.take();
    if (held === undefined) return;
    this.report(`skipped ${reason}${held > 0 ? ` (and ${held} more not reported)` : ''}`);
  }
}
