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
import type { EvaluationLock } from './heartbeat';

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
    private readonly opts: {
      /** The slot lease: a job's lock lasts as long, renewed by the worker's heartbeat thread. */
      leaseMs: number;
      /** Tells the heartbeat which job lock to renew (null: none). */
      holdLock: (lock: EvaluationLock | null) => void;
      log: (message: string) => void;
    },
  ) {
    // No processor: jobs are fetched by hand when the worker is idle. The main thread is busy for the
    // whole evaluation, so the job's lock is renewed by the heartbeat thread (heartbeat-thread.ts), for a
    // lease at a time: a job whose worker died is put back in the queue by the stalled-job check of any
    // other worker within about two leases, and run again by an idle worker.
    this.bull = new BullWorker(QUEUES.evaluations, null, {
      connection: redisOptions(conn),
      prefix,
      lockDuration: opts.leaseMs,
      stalledInterval: opts.leaseMs,
      autorun: false,
    });
    this.bull.on('error', redisOutage(conn, opts.log).listener('evaluation queue', opts.log));
    this.bull.startStalledCheckTimer().catch((err: Error) => opts.log(`evaluation queue: ${err.message}`));
  }

  /** Runs one waiting job, if any; returns whether there was one. */
  async runOne(): Promise<boolean> {
    const token = `${this.workerId}-${Date.now()}`;
    const job = (await this.bull.getNextJob(token, { block: false })) as Job<unknown> | undefined;
    if (!job) return false;
    this.opts.holdLock({ jobId: job.id!, token });
    try {
      let result: EvaluationJobResult;
      try {
        // Through the job contract: a malformed job fails naming its bad fields, before any file is read.
        result = await this.evaluate(decodeEvaluationJob(job.data, job.id));
      } catch (err) {
        this.opts.log(`evaluation job ${job.id} failed: ${(err as Error).message}`);
        await job.moveToFailed(err as Error, token, false);
        return true;
      }
      await job.moveToCompleted(result, token, false);
    } finally {
      this.opts.holdLock(null);
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
    this.opts.log(`evaluating peer ${data.peer} of ${data.runId} at step ${data.step}`);
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
