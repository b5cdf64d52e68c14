import * as fs from 'fs';
import * as path from 'path';
import { Job, type JobType, type Queue } from 'bullmq';
import { stepDirName, type MissingEvaluation } from '@mat/core';
import {
  ContractError,
  decodeEvaluationJob,
  decodeEvaluationResult,
  encodeEvaluationJob,
  JOBS,
  jobIds,
  type EvaluationJobResult,
} from '@mat/exchange';

/** Where the scheduled evaluations of a run stand (Evaluations.check). */
export type EvaluationsCheck =
  | { type: 'pending' }
  /**
   * Every job has ended: the final evaluation's results, and the evaluations that could not be done (every
   * attempt failed, or the checkpoint was gone), with the reason.
   */
  | { type: 'ended'; final: EvaluationJobResult[]; missing: MissingEvaluation[] };

/** The states of a job that has not ended (it will run, or is running). */
const UNFINISHED: JobType[] = ['waiting', 'active', 'delayed', 'prioritized', 'paused', 'waiting-children'];

/**
 * The run's evaluation jobs (QUEUES.evaluations): one per peer and evaluated checkpoint, run by idle
 * workers (evaluation-jobs.ts in @mat/worker). A job is retried once when it fails; a job whose worker
 * died is put back in the queue by BullMQ's stalled-job check once its lock (one lease, renewed by the
 * worker's heartbeat) runs out. The checkpoint of a job that has not ended is never pruned (pinnedSteps).
 */
export class Evaluations {
  constructor(
    private readonly queue: Queue,
    private readonly runId: string,
  ) {}

  async enqueue(peers: number, step: number, dir: string, final: boolean): Promise<void> {
    for (let peer = 0; peer < peers; peer++) await this.enqueueOne(peer, step, dir, final);
  }

  private async enqueueOne(peer: number, step: number, dir: string, final: boolean): Promise<void> {
    const data = encodeEvaluationJob({ runId: this.runId, step, peer, dir, final });
    await this.queue.add(JOBS.evaluate, data, {
      jobId: jobIds.evaluate(this.runId, step, peer),
      attempts: 2,
    });
  }

  /** The steps whose checkpoint an evaluation job of this run has yet to read: not to be pruned. */
  async pinnedSteps(): Promise<Set<number>> {
    const steps = new Set<number>();
    for (const job of await this.queue.getJobs(UNFINISHED)) {
      if (!job) continue;
      try {
        const data = decodeEvaluationJob(job.data, job.id);
        if (data.runId === this.runId) steps.add(data.step);
      } catch (err) {
        // A malformed job reads nothing (it fails when a worker takes it): it pins no checkpoint.
        if (!(err instanceof ContractError)) throw err;
      }
    }
    return steps;
  }

  /**
   * Every scheduled evaluation of the run: at the epoch steps and, final, at `lastStep`, of every peer. A job
   * that is gone (Redis restarted, the queue was cleaned) is asked for again while its checkpoint is there
   * (an epoch evaluation already in metrics.jsonl — `evaluated` — is done); never given up silently.
   */
  async check(run: {
    runDir: string;
    peers: number;
    epochSteps: readonly number[];
    lastStep: number;
    evaluated: (step: number) => boolean;
    /**
     * The run stopped after this many steps: the evaluations scheduled up to there that have not ended are
     * reported as not done (their jobs stay queued and their checkpoints kept, for a resumed run).
     */
    stoppedAt?: number;
  }): Promise<EvaluationsCheck> {
    const final: EvaluationJobResult[] = [];
    const missing: MissingEvaluation[] = [];
    let pending = false;
    const { stoppedAt } = run;
    const steps = [...run.epochSteps, run.lastStep].filter((s) => stoppedAt === undefined || s <= stoppedAt);
    const notYet = (peer: number, step: number) =>
      missing.push({
        peer,
        step,
        reason: `not done when the run stopped at step ${stoppedAt}; resuming the run does it`,
      });
    for (const step of steps) {
      const isFinal = step === run.lastStep;
      const dir = path.join(run.runDir, 'checkpoints', stepDirName(step));
      for (let peer = 0; peer < run.peers; peer++) {
        const id = jobIds.evaluate(this.runId, step, peer);
        const job = await Job.fromId<unknown, unknown>(this.queue, id);
        if (!job) {
          if (!isFinal && run.evaluated(step)) continue;
          if (fs.existsSync(path.join(dir, 'manifest.json'))) {
            if (stoppedAt !== undefined) {
              notYet(peer, step);
              continue;
            }
            await this.enqueueOne(peer, step, dir, isFinal);
            pending = true;
          } else {
            missing.push({ peer, step, reason: `its checkpoint ${dir} was gone before it was evaluated` });
          }
          continue;
        }
        if (await job.isFailed()) {
          missing.push({ peer, step, reason: job.failedReason || 'the evaluation job failed' });
          continue;
        }
        if (!(await job.isCompleted())) {
          if (stoppedAt !== undefined) notYet(peer, step);
          else pending = true;
          continue;
        }
        if (!isFinal) continue;
        // The job may have completed after it was read above (its result was null then): read it again.
        const completed = await Job.fromId<unknown, unknown>(this.queue, id);
        const result = this.resultOf(completed?.returnvalue, id, peer, step);
        if (typeof result === 'string') missing.push({ peer, step, reason: result });
        else final.push(result);
      }
    }
    return pending ? { type: 'pending' } : { type: 'ended', final, missing };
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
