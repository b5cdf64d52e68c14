import { z } from 'zod';
import { decodeJson, encodeJson } from './contract';
import { indexField, intField, shortText, workerIdField } from './fields';

/**
 * One field of the `workers` hash (runKeys(id).workers): workerId -> JSON, rewritten by the worker's
 * heartbeat (with `lastHeartbeat` from the Redis clock), read by the coordinator, `mat status` and the
 * dashboard.
 */
export const WORKER_STATUS = ['idle', 'training', 'evaluating', 'stopping'] as const;

export const workerRecordSchema = z.object({
  workerId: workerIdField,
  host: shortText,
  pid: z.number().int().nonnegative(),
  /** The slot held, or null for a spare. */
  peer: indexField.nullable(),
  backend: shortText,
  /** ms epoch (Redis clock), set by the heartbeat script. */
  lastHeartbeat: intField.optional(),
  status: z.enum(WORKER_STATUS),
  stepSeconds: z.number().nonnegative().optional(),
  /** CUDA_VISIBLE_DEVICES when the backend was loaded (`mat worker --gpu`), if set. */
  gpu: shortText.optional(),
});

export type WorkerRecord = z.output<typeof workerRecordSchema>;

export const encodeWorkerRecord = (w: WorkerRecord, what = 'worker record') =>
  encodeJson(workerRecordSchema, w, what);

export const decodeWorkerRecord = (json: string, what: string): WorkerRecord =>
  decodeJson(workerRecordSchema, json, what);
