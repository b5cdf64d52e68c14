import * as path from 'path';
import { Job, type Queue } from 'bullmq';
import { stepDirName, type MissingEvaluation } from '@mat/core';
import {
  ContractError,
  decodeEvaluationResult,
  encodeEvaluationJob,
  JOBS,
  jobIds,
  type EvaluationJobResult,
} from '@mat/exchange';

/** Where the final evaluation of a run stands (Evaluations.checkFinal). */
export type FinalEvaluations =
  | { type: 'pending' }
  | { type: 'done'; results: EvaluationJobResult[] }
  /** Some evaluation failed for good (every attempt): the others' results, and which are missing. */
  | { type: 'failed'; results: EvaluationJobResult[]; missing: MissingEvaluation[] };

/**
 * The run's evaluation jobs (QUEUES.evaluations): one per peer and evaluated checkpoint, run by idle
 * workers (evaluation-jobs.ts in @mat/worker). A job is retried once when it fails; a job whose worker
 * died is put back in the queue by BullMQ's stalled-job check.
 */
export class Evaluations {
  constructor(
    private readonly queue: Queue,
    private readonly runId: string,
  ) {}

  async enqueue(peers: number, step: number, dir: string, final: boolean): Promise<void> {
    for (let peer = 0; peer < peers; peer++) {
      const data = encodeEvaluationJob({ runId: this.runId, step, peer, dir, final });
      await this.queue.add(JOBS.evaluate, data, {
        jobId: jobIds.evaluate(this.runId, step, peer),
        attempts: 2,
      });
    }
  }

  /** The final evaluation at `step` of every peer (enqueued again when its jobs are gone). */
  async checkFinal(runDir: string, peers: number, step: number): Promise<FinalEvaluations> {
    const results: EvaluationJobResult[] = [];
    const missing: MissingEvaluation[] = [];
    let pending = false;
    for (let peer = 0; peer < peers; peer++) {
      const id = jobIds.evaluate(this.runId, step, peer);
      const job = await Job.fromId<unknown, unknown>(this.queue, id);
      if (!job) {
        // Removed (Redis restarted, the queue was cleaned): asked for again, never given up silently.
        await this.enqueue(peers, step, path.join(runDir, 'checkpoints', stepDirName(step)), true);
        return { type: 'pending' };
      }
      if (await job.isFailed()) {
        missing.push({ peer, step, reason: job.failedReason || 'the evaluation job failed' });
        continue;
      }
      if (!(await job.isCompleted())) {
        pending = true;
        continue;
      }
      // The job may have completed after it was read above (its result was null then): read it again.
      const completed = await Job.fromId<unknown, unknown>(this.queue, id);
      const result = this.resultOf(completed?.returnvalue, id, peer, step);
      if (typeof result === 'string') missing.push({ peer, step, reason: result });
      else results.push(result);
    }
    if (pending) return { type: 'pending' };
    return missing.length > 0 ? { type: 'failed', results, missing } : { type: 'done', results };
  }

  /**
   * A completed job's return value through the result contract: the result, or why it is not one (a
   * malformed value, or one of another peer or step, is a missing evaluation, never a reported accuracy).
   */
  private resultOf(value: unknown, id: string, peer: number, step: number): EvaluationJobResult | string {
    try {
      const result = decodeEvaluationResult(value, id);
      if (result.peer !== peer || result.step !== step)
        return `evaluation job ${id} returned the result of peer ${result.peer} at step ${result.step}`;
      return result;
    } catch (err) {
      if (err instanceof ContractError) return err.message;
      throw err;
    }
  }
}
