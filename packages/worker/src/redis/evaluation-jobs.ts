import { Worker as BullWorker, type Job } from 'bullmq';
import {
  createPeer,
  evalAttackSpec,
  evaluateModel,
  loadPeerCheckpoint,
  loadRunData,
  parseRunConfig,
  type Dataset,
  type RunConfig,
} from '@mat/core';
import {
  decodeEvaluationJob,
  encodeEvaluationResult,
  QUEUES,
  redisOptions,
  redisOutage,
  RunStore,
  type EvaluationJobData,
  type EvaluationJobResult,
  type RedisConnection,
} from '@mat/exchange';
import type { Redis } from 'ioredis';

/**
 * Evaluation jobs (QUEUES.evaluations), taken by idle workers — hot spares during training, every worker
 * once training is over — so that evaluating never slows the synchronous training steps. A job names a
 * committed checkpoint and a peer; the result goes to the run's metrics stream and is the job's return
 * value, which the coordinator collects for summary.json.
 */
export class EvaluationJobs {
  private readonly bull: BullWorker<unknown, EvaluationJobResult>;
  private cached?: { runId: string; config: RunConfig; test: Dataset };

  constructor(
    conn: RedisConnection,
    prefix: string,
    private readonly redis: Redis,
    private readonly workerId: string,
    private readonly log: (message: string) => void,
  ) {
    // No processor: jobs are fetched by hand when the worker is idle. The lock must outlast an evaluation
    // (the event loop is busy for all of it, so it cannot be extended); a job whose worker died is taken up
    // again by the stalled-job check once its lock has run out.
    this.bull = new BullWorker(QUEUES.evaluations, null, {
      connection: redisOptions(conn),
      prefix,
      lockDuration: 10 * 60 * 1000,
      stalledInterval: 60 * 1000,
      autorun: false,
    });
    this.bull.on('error', redisOutage(conn, log).listener('evaluation queue', log));
    this.bull.startStalledCheckTimer().catch((err: Error) => log(`evaluation queue: ${err.message}`));
  }

  /** Runs one waiting job, if any; returns whether there was one. */
  async runOne(): Promise<boolean> {
    const token = `${this.workerId}-${Date.now()}`;
    const job = (await this.bull.getNextJob(token, { block: false })) as Job<unknown> | undefined;
    if (!job) return false;
    try {
      // Through the job contract: a malformed job fails naming its bad fields, before any file is read.
      const result = await this.evaluate(decodeEvaluationJob(job.data, job.id));
      await job.moveToCompleted(result, token, false);
    } catch (err) {
      this.log(`evaluation job ${job.id} failed: ${(err as Error).message}`);
      await job.moveToFailed(err as Error, token, false);
    }
    return true;
  }

  private async evaluate(data: EvaluationJobData): Promise<EvaluationJobResult> {
    const store = new RunStore(this.redis, data.runId);
    if (this.cached?.runId !== data.runId) {
      const raw = await store.readConfig();
      if (raw === undefined) throw new Error(`run ${data.runId} has no config in Redis`);
      const config = parseRunConfig(raw, `config of run ${data.runId}`);
      this.cached = { runId: data.runId, config, test: (await loadRunData(config)).test };
    }
    const { config, test } = this.cached;
    this.log(`evaluating peer ${data.peer} of ${data.runId} at step ${data.step}`);
    const peer = createPeer(config, data.peer, test);
    try {
      loadPeerCheckpoint(data.dir, peer);
      const result = evaluateModel(peer.model, test, {
        attack: evalAttackSpec(config.eval.attack),
        batchSize: config.eval.batchSize,
        seed: config.seed,
      });
      await store.addMetric({ type: 'eval', peer: data.peer, step: data.step, ...result, final: data.final });
      return encodeEvaluationResult({ ...result, peer: data.peer, step: data.step });
    } finally {
      peer.model.dispose();
      peer.optimizer.dispose();
    }
  }

  async close(): Promise<void> {
    await this.bull.close();
  }
}
