import { z } from 'zod';
import { RUN_STATUS } from '../redis-keys';
import { ContractError, decodeJson, encodeJson, FORBIDDEN_KEYS, parseContract } from './contract';
import { indexField, intField, pathField } from './fields';

/**
 * The `state` hash of a run (runKeys(id).state): written by the coordinator (and a worker's pause request),
 * read by the coordinator, the workers, `mat status` and the dashboard. Hash values are strings; numbers are
 * decimal integers, booleans '1' / '0'.
 */
/** A peer diverged (core's DivergenceError) in `generation`: reported by its worker to the coordinator. */
export const divergenceSchema = z.object({
  peer: z.number().int().min(-1),
  /** The step that diverged (1-based). */
  step: z.number().int().min(-1),
  generation: z.number().int().min(-1),
  reason: z.string().max(4096),
});
export type ReportedDivergence = z.output<typeof divergenceSchema>;

/** The `divergence` field's JSON (written with HSETNX by RunStore.reportDivergence). */
export const encodeDivergence = (d: ReportedDivergence): string =>
  encodeJson(divergenceSchema, d, 'divergence report');

/**
 * A divergence report that breaks the contract still means a worker reported a divergence: it is kept as
 * one of an unknown peer whose reason says what was wrong, so that the run fails naming it.
 */
function decodeDivergence(text: string, what: string): ReportedDivergence {
  try {
    return decodeJson(divergenceSchema, text, `divergence report in ${what}`);
  } catch (err) {
    if (!(err instanceof ContractError)) throw err;
    return {
      peer: -1,
      step: -1,
      generation: -1,
      reason: `a malformed divergence report: ${err.message}`.slice(0, 4096),
    };
  }
}

export const runStateSchema = z.object({
  status: z.enum(RUN_STATUS),
  generation: indexField,
  resumeStep: indexField,
  /** Every peer stops after this many steps, with a checkpoint (undefined: no pause pending). */
  pauseAt: indexField.optional(),
  /** Set with pauseAt when the run stops there for good (`mat status --stop`). */
  stopRequested: z.boolean().optional(),
  lastStep: indexField,
  totalSteps: indexField,
  /** Steps done by the slowest peer of the current generation. */
  step: indexField,
  peers: z.number().int().min(1).max(1024),
  checkpointStep: indexField,
  runDir: pathField,
  createdAt: intField,
  updatedAt: intField,
  error: z
    .string()
    .max(64 * 1024)
    .optional(),
  /** When the stop was asked for (ms epoch, the coordinator's clock): a stop not settled in time is forced. */
  stopRequestedAt: intField.optional(),
  /** The first divergence a worker reported (reportDivergence), until the coordinator acts on it. */
  divergence: divergenceSchema.optional(),
  /** The step of the divergence that caused the run's last rollback (train.onDivergence 'rollback'). */
  rolledBackFrom: indexField.optional(),
  /**
   * The fingerprint of the exchange secret of the run's workers (exchangeSecretFingerprint: 32 hex digits,
   * or 'none'), set by the first worker that joins; a worker with another one refuses to join.
   */
  secretFingerprint: z
    .string()
    .regex(/^([0-9a-f]{32}|none)$/, "32 hex digits or 'none'")
    .optional(),
});

export type RunState = z.output<typeof runStateSchema>;

const NUMBER_FIELDS = new Set([
  'generation',
  'resumeStep',
  'pauseAt',
  'lastStep',
  'totalSteps',
  'step',
  'peers',
  'checkpointStep',
  'createdAt',
  'updatedAt',
  'stopRequestedAt',
  'rolledBackFrom',
]);
const BOOLEAN_FIELDS = new Set(['stopRequested']);
const KNOWN = new Set(Object.keys(runStateSchema.shape));

/** One value of the state as the hash stores it. */
function encodeStateValue(value: unknown): string {
  if (typeof value === 'boolean') return value ? '1' : '0';
  if (typeof value === 'object' && value !== null) return JSON.stringify(value);
  return String(value);
}

/**
 * Fields to set (undefined: clear) -> the hash's strings and the fields to delete. Every value is checked
 * against the contract first, so a writer never stores a state readers refuse.
 */
export function encodeStateUpdate(
  fields: Partial<RunState>,
  what: string,
): { set: Record<string, string>; clear: string[] } {
  const present = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
  parseContract(runStateSchema.partial().strict(), present, what);
  const set: Record<string, string> = {};
  const clear: string[] = [];
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) clear.push(k);
    else set[k] = encodeStateValue(v);
  }
  return { set, clear };
}

/**
 * The hash (HGETALL) -> the state; undefined for an absent run (no status). Unknown fields are ignored
 * (a newer writer may add some); a wrong one is a ContractError naming the field.
 */
export function decodeRunState(hash: Record<string, string>, what: string): RunState | undefined {
  if (hash.status === undefined) return undefined;
  const out: Record<string, unknown> = {};
  for (const [k, text] of Object.entries(hash)) {
    if (FORBIDDEN_KEYS.has(k)) throw new ContractError(what, [`${k}: forbidden key`]);
    if (!KNOWN.has(k) || text === '') continue;
    if (NUMBER_FIELDS.has(k)) out[k] = /^-?\d{1,16}$/.test(text) ? Number(text) : text;
    else if (BOOLEAN_FIELDS.has(k)) out[k] = text === '1' ? true : text === '0' ? false : text;
    else if (k === 'divergence') out[k] = decodeDivergence(text, what);
    else out[k] = text;
  }
  out.checkpointStep ??= 0;
  out.stopRequested ??= false;
  return parseContract(runStateSchema, out, what);
}
