import { z } from 'zod';
import { decodeJson, encodeJson } from './contract';
import { indexField, measurementField, pathField, workerIdField } from './fields';

/**
 * The entries of a run's metrics stream (runKeys(id).metrics: XADD, field `m` = the JSON below), written by
 * the workers (step, eval, worker) and the coordinator (run, checkpoint, worker lost), read by the
 * coordinator (metrics.jsonl), `mat status` and the dashboard. Measurements are numbers or null (a value
 * that was not finite: JSON has no NaN); a measurement an older writer did not have reads as null.
 */

const m = measurementField.default(null);

export const stepEntrySchema = z.object({
  type: z.literal('step'),
  peer: indexField,
  step: indexField,
  /** The generation the step was taken in (a rollback re-takes steps); absent from old entries. */
  generation: indexField.optional(),
  loss: m,
  base: m,
  distill: m,
  advAccuracy: m,
  lr: m,
  stepSeconds: m,
  exchangeSeconds: m,
  /** With train.maxStaleness > 0: the step minus the oldest step of teacher outputs used. */
  staleness: indexField.optional(),
});

export const evalEntrySchema = z.object({
  type: z.literal('eval'),
  peer: indexField,
  step: indexField,
  cleanAccuracy: m,
  robustAccuracy: m,
  count: m,
  final: z.boolean().optional(),
});

/** `claimed`: a slot no worker held before in this run; `took-over`: a slot another worker trained before. */
export const WORKER_EVENTS = ['joined', 'claimed', 'left', 'lost', 'took-over'] as const;

export const workerEntrySchema = z.object({
  type: z.literal('worker'),
  workerId: workerIdField,
  event: z.enum(WORKER_EVENTS),
  peer: indexField.nullable().default(null),
});

export const RUN_EVENTS = [
  'create',
  'resume',
  'stop-requested',
  'generation',
  'rollback',
  /** Every slot held and no step for a stall's time: the run restarted from its last checkpoint. */
  'stalled',
  'stopped',
  'finished',
  'failed',
  /** A scheduled evaluation that could not be done (its reason names the peer). */
  'evaluation-missing',
] as const;

export const runEntrySchema = z.object({
  type: z.literal('run'),
  event: z.enum(RUN_EVENTS),
  step: indexField.optional(),
  generation: indexField.optional(),
  error: z.string().max(65536).optional(),
  reason: z.string().max(65536).optional(),
});

export const checkpointEntrySchema = z.object({
  type: z.literal('checkpoint'),
  step: indexField,
  dir: pathField,
});

export const metricsEntrySchema = z.discriminatedUnion('type', [
  stepEntrySchema,
  evalEntrySchema,
  workerEntrySchema,
  runEntrySchema,
  checkpointEntrySchema,
]);

export type MetricsEntry = z.output<typeof metricsEntrySchema>;
export type MetricsEntryInput = z.input<typeof metricsEntrySchema>;
export type StepEntry = z.output<typeof stepEntrySchema>;
export type EvalEntry = z.output<typeof evalEntrySchema>;
export type WorkerEntry = z.output<typeof workerEntrySchema>;
export type RunEntry = z.output<typeof runEntrySchema>;
export type CheckpointEntry = z.output<typeof checkpointEntrySchema>;

/** The stream field that holds the entry. */
export const METRICS_FIELD = 'm';
/** No entry comes close (a step entry is ~300 bytes). */
const MAX_ENTRY_BYTES = 16 * 1024;

export const encodeMetricsEntry = (entry: MetricsEntryInput): string =>
  encodeJson(metricsEntrySchema, entry, `metrics entry (${entry.type})`);

export const decodeMetricsEntry = (json: string, what = 'metrics entry'): MetricsEntry =>
  decodeJson(metricsEntrySchema, json, what, MAX_ENTRY_BYTES);

/**
 * One XRANGE / XREVRANGE row -> its entry. Fields and values alternate; only a field (even position) named
 * `m` counts, never a value "m". Throws a ContractError naming the stream id.
 */
export function decodeMetricsRow(row: [string, string[]], stream: string): MetricsEntry {
  const [id, fields] = row;
  let text: string | undefined;
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === METRICS_FIELD) text = fields[i + 1];
  const what = `metrics entry ${id} of ${stream}`;
  if (text === undefined) return decodeMetricsEntry('{}', what + ' (no field m)');
  return decodeMetricsEntry(text, what);
}
