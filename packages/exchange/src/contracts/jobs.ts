import { z } from 'zod';
import { parseContract } from './contract';
import { indexField, pathField, runIdField } from './fields';
import { runStateSchema } from './run-state';

/**
 * BullMQ job data of the control plane (QUEUES / JOBS of redis-keys.ts). Jobs carry ids and small JSON,
 * never tensors. Producers build the data through encode*() and consumers read it through decode*(), so a
 * job from an older or hostile producer is a failed job naming the bad field, not an internal error later.
 */

/** control `create` / `resume`: a coordinator registers a run from its directory. */
export const registerJobSchema = z.object({
  runId: runIdField,
  /** The run's RunConfig (checked by parseRunConfig of @mat/core where it is used). */
  config: z.record(z.string(), z.unknown()),
  state: runStateSchema,
});

/** control `stop`: stop the run at the next common step, with a checkpoint. */
export const stopJobSchema = z.object({ runId: runIdField });

/** checkpoints `peer-saved`: one peer's file of a global checkpoint is written. */
export const peerSavedJobSchema = z.object({
  runId: runIdField,
  generation: indexField,
  step: indexField,
  peer: indexField,
});

/** evaluations `evaluate`: evaluate one peer of a committed checkpoint. */
export const evaluationJobSchema = z.object({
  runId: runIdField,
  step: indexField,
  peer: indexField,
  /** The committed checkpoint directory. */
  dir: pathField,
  final: z.boolean(),
});

/** What an evaluation job returns (its BullMQ return value), collected by the coordinator. */
export const evaluationResultSchema = z.object({
  peer: indexField,
  step: indexField,
  count: z.number().int().nonnegative(),
  cleanAccuracy: z.number().min(0).max(1),
  robustAccuracy: z.number().min(0).max(1),
});

export type RegisterJobData = z.output<typeof registerJobSchema>;
export type StopJobData = z.output<typeof stopJobSchema>;
export type PeerSavedJobData = z.output<typeof peerSavedJobSchema>;
export type EvaluationJobData = z.output<typeof evaluationJobSchema>;
export type EvaluationJobResult = z.output<typeof evaluationResultSchema>;

const jobContract =
  <S extends z.ZodType>(schema: S, name: string) =>
  (data: unknown, id?: string): z.output<S> =>
    parseContract(schema, data, `${name} job${id === undefined ? '' : ` ${id}`}`);

export const decodeRegisterJob = jobContract(registerJobSchema, 'control create/resume');
export const decodeStopJob = jobContract(stopJobSchema, 'control stop');
export const decodePeerSavedJob = jobContract(peerSavedJobSchema, 'checkpoint peer-saved');
export const decodeEvaluationJob = jobContract(evaluationJobSchema, 'evaluation');
export const decodeEvaluationResult = jobContract(evaluationResultSchema, 'evaluation result of');

/** Producers: the same check before the job is queued. */
export const encodeRegisterJob = (d: z.input<typeof registerJobSchema>) => decodeRegisterJob(d);
export const encodeStopJob = (d: z.input<typeof stopJobSchema>) => decodeStopJob(d);
export const encodePeerSavedJob = (d: z.input<typeof peerSavedJobSchema>) => decodePeerSavedJob(d);
export const encodeEvaluationJob = (d: z.input<typeof evaluationJobSchema>) => decodeEvaluationJob(d);
export const encodeEvaluationResult = (d: z.input<typeof evaluationResultSchema>) =>
  decodeEvaluationResult(d);
