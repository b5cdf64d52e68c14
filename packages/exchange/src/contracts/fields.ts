import { z } from 'zod';

/** Field types shared by the contracts. */

/** A run id: one Redis Cluster hash slot `mat:{<id>}:…`, a URL path segment, a BullMQ job id part. */
export const RUN_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
export const runIdField = z
  .string()
  .regex(
    RUN_ID_PATTERN,
    "run ids are 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit",
  );

/** Peer index, step, generation: non-negative safe integers. */
export const indexField = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
/** A ms-epoch time or another integer count. */
export const intField = z.number().int().min(-Number.MAX_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER);
/** Short free text (ids, hosts, statuses): bounded so that a hostile value cannot grow a reader's memory. */
export const shortText = z.string().max(512);
/** A worker id: non-empty short text. */
export const workerIdField = z.string().min(1).max(256);
/** A filesystem path. */
export const pathField = z.string().min(1).max(4096);
/**
 * A measurement: a finite number, or null for a value that was not finite (JSON has no NaN or Infinity;
 * null is read back as "not a number", never as 0).
 */
export const measurementField = z.preprocess(
  (v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v),
  z.number().nullable(),
);

/** For writers: a number as a measurement (non-finite -> null). */
export const measurement = (v: number | null | undefined): number | null =>
  typeof v === 'number' && Number.isFinite(v) ? v : null;

/** Whether `id` is a valid run id (see RUN_ID_PATTERN). */
export const isValidRunId = (id: string): boolean => RUN_ID_PATTERN.test(id);

/** Throws an error naming the flag/source when `id` is not a valid run id. */
export function checkRunId(id: string, source = 'run id'): string {
  if (!isValidRunId(id))
    throw new Error(
      `${source} "${id.length > 140 ? id.slice(0, 140) + '…' : id}" is not valid: run ids are 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit`,
    );
  return id;
}
