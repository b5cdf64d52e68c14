import * as os from 'os';
import { randomBytes } from 'crypto';
import type { Redis } from 'ioredis';
import { parseRunConfig, selectBackend, type RunConfig } from '@mat/core';
import {
  connectRedis,
  DEFAULT_QUEUE_PREFIX,
  ExchangeAborted,
  exchangeSecretFromEnv,
  JOBS,
  jobIds,
  QUEUES,
  RedisPeerExchange,
  redisOptions,
  RunStore,
  RUNS_INDEX_KEY,
  runKeys,
  type RedisConnection,
  type RunState as StoredRunState,
  type WorkerRecord,
} from '@mat/exchange';
import { Queue } from 'bullmq';
import { PeerRunner } from '../peer-runner';
import { trainLoop } from '../train-loop';
import { EvaluationJobs } from './evaluation-jobs';
import { Heartbeat } from './heartbeat';

export interface WorkerOptions {
  conn: RedisConnection;
  /** The run to join; when omitted, the one unfinished run in Redis. */
  runId?: string;
  /** BullMQ key prefix (as the coordinator's). @defaultValue 'bull' */
  queuePrefix?: string;
  /** A slot whose lease is not renewed for this long is given away. @defaultValue 10000 */
  leaseMs?: number;
  /** How often an idle or blocked worker looks at the run's state. @defaultValue 250 */
  pollMs?: number;
  /** How long to wait for a run to appear in Redis before giving up. @defaultValue 60000 */
  joinTimeoutMs?: number;
  workerId?: string;
  /** The GPU lease this worker holds (GpuClaim.lease, `mat worker --gpu auto`): its heartbeat renews it. */
  gpu?: { pool: string; device: string };
  log?: (message: string, fields?: Record<string, unknown>) => void;
}

type Outcome = 'finished' | 'stopped' | 'failed' | 'left';
const TERMINAL = new Set(['finished', 'stopped', 'failed']);

/**
 * `mat worker`: joins a run, claims a free peer slot (a lease kept alive by a heartbeat thread) or waits
 * as a hot spare, and trains that peer step by step with the others through Redis. Every generation of
 * the run (see redis-keys.ts) starts all peers from the same committed checkpoint, so when a worker is
 * lost the others roll back with the spare that replaces it and the run continues exactly as if nothing
 * had happened. SIGTERM (leave()): finish the step, checkpoint with the others at that step, hand the
 * slot back, exit.
 */
export class RedisWorker {
  private peer: number | undefined;
  private runner: PeerRunner | undefined;
  private exchange: RedisPeerExchange | undefined;
  private leaving = false;
  private slotLost = false;
  /** Generation this worker has trained to its end (stopped or finished); it idles until the next. */
  private doneGeneration = -1;
  /** The generation this worker last trained in (from its start). */
  private trainedGeneration = -1;
  /** The step the done generation ended at. */
  private pausedAt: number | undefined;

  private constructor(
    private readonly opts: Required<Omit<WorkerOptions, 'runId' | 'workerId' | 'gpu' | 'log'>> &
      WorkerOptions,
    private readonly redis: Redis,
    private readonly store: RunStore,
    private readonly config: RunConfig,
    private readonly heartbeat: Heartbeat,
    private readonly evaluations: EvaluationJobs,
    private readonly checkpoints: Queue,
    readonly workerId: string,
  ) {}

  static async join(options: WorkerOptions): Promise<RedisWorker> {
    const opts = {
      ...options,
      queuePrefix: options.queuePrefix ?? DEFAULT_QUEUE_PREFIX,
      leaseMs: options.leaseMs ?? 10000,
      pollMs: options.pollMs ?? 250,
      joinTimeoutMs: options.joinTimeoutMs ?? 60000,
    };
    const log = opts.log ?? (() => {});
    const workerId = opts.workerId ?? newWorkerId();
    const redis = await connectRedis(opts.conn, { log, name: `mat-worker-${workerId}` });
    let heartbeat: Heartbeat | undefined;
    try {
      const runId = opts.runId ?? (await findActiveRun(redis, opts.joinTimeoutMs, opts.pollMs));
      const store = new RunStore(redis, runId);
      const raw = await waitFor(
        () => store.readConfig(),
        opts.joinTimeoutMs,
        opts.pollMs,
        () => new Error(`run "${runId}" does not exist in Redis (start it with mat coordinator)`),
      );
      const config = parseRunConfig(raw, `config of run ${runId}`);
      // A stopped run is resumed by starting its coordinator again: wait for that, as for a new run.
      await waitFor(
        async () => {
          const status = (await store.readState())?.status;
          return status === 'stopped' || status === 'failed' ? undefined : true;
        },
        opts.joinTimeoutMs,
        opts.pollMs,
        () => new Error(`run "${runId}" is stopped: start its coordinator again to resume it`),
      );
      const record: WorkerRecord = {
        workerId,
        host: os.hostname(),
        pid: process.pid,
        peer: null,
        backend: 'loading',
        status: 'idle',
        // What the backend sees: `mat worker --gpu` sets it before this point.
        ...(process.env.CUDA_VISIBLE_DEVICES !== undefined ? { gpu: process.env.CUDA_VISIBLE_DEVICES } : {}),
      };
      const worker: { self?: RedisWorker } = {};
      // Beating before the backend loads: loading a GPU backend can block this thread for longer than a
      // lease, and the GPU lease must not lapse meanwhile.
      heartbeat = new Heartbeat(
        { conn: opts.conn, runId, leaseMs: opts.leaseMs, worker: record, gpu: opts.gpu },
        (e) => {
          if (e.type === 'lost') worker.self?.onSlotLost(e.peer);
          else log(`heartbeat: ${e.message}`);
        },
      );
      const backend = await selectBackend(config.backend);
      heartbeat.update({ worker: { backend: backend.name } });
      const evaluations = new EvaluationJobs(opts.conn, opts.queuePrefix, redis, workerId, log);
      const checkpoints = new Queue(QUEUES.checkpoints, {
        connection: redisOptions(opts.conn),
        prefix: opts.queuePrefix,
      });
      checkpoints.on('error', (err) => log(`checkpoint queue: ${err.message}`));
      worker.self = new RedisWorker(
        { ...opts, runId },
        redis,
        store,
        config,
        heartbeat,
        evaluations,
        checkpoints,
        workerId,
      );
      await store.addMetric({ type: 'worker', workerId, event: 'joined', peer: null });
      const gpu = record.gpu === undefined ? '' : `, CUDA_VISIBLE_DEVICES=${record.gpu}`;
      log(`worker ${workerId} joined run ${runId} (backend ${backend.name}${gpu})`);
      return worker.self;
    } catch (err) {
      await heartbeat?.stop();
      redis.disconnect();
      throw err;
    }
  }

  private log(message: string, fields?: Record<string, unknown>): void {
    this.opts.log?.(message, fields);
  }

  /** Graceful stop: after the current step, checkpoint with the others, give the slot back, exit. */
  leave(): void {
    this.leaving = true;
    this.heartbeat.update({ worker: { status: 'stopping' } });
  }

  private onSlotLost(peer: number): void {
    if (this.peer !== peer) return;
    this.log(`lost the lease on peer ${peer} (missed heartbeats); back to waiting`);
    this.slotLost = true;
  }

  /** Runs until the run ends or this worker leaves. */
  async run(): Promise<Outcome> {
    try {
      for (;;) {
        const state = await this.store.readState();
        if (state && TERMINAL.has(state.status)) return state.status as Outcome;
        if (this.slotLost) this.dropSlot();
        if (!state) {
          // Redis lost the run (restart without persistence): the coordinator recreates it.
          if (this.peer !== undefined) this.dropSlot();
          await this.idle();
          continue;
        }
        if (this.peer === undefined) {
          if (this.leaving) return 'left';
          const peer = await this.store.claimSlot(this.workerId, this.opts.leaseMs, this.config.peers);
          if (peer === undefined) {
            await this.idle();
            continue;
          }
          await this.takeSlot(peer, state);
        }
        // A worker new to a generation that is pausing (someone leaving) waits for the next one.
        const pausing = state.pauseAt !== undefined && this.trainedGeneration !== state.generation;
        if (state.status !== 'running' || state.generation === this.doneGeneration || pausing) {
          if (this.mustServe(state)) {
            await this.runner!.serve(this.exchange!, { timeoutMs: this.opts.pollMs });
            continue;
          }
          if (this.leaving && (await this.handBack(state))) return 'left';
          await this.idle();
          continue;
        }
        await this.trainGeneration(state);
      }
    } finally {
      await this.close();
    }
  }

  /**
   * Bounded staleness: this peer's steps of the generation are over, but slower peers may still need its
   * labels to reach the same step; it answers them until that step's checkpoint is committed (every peer
   * is there).
   */
  private mustServe(state: StoredRunState): boolean {
    return (
      !!this.runner?.servesAfterSteps &&
      this.peer !== undefined &&
      state.status === 'running' &&
      state.generation === this.doneGeneration &&
      this.pausedAt !== undefined &&
      state.checkpointStep < this.pausedAt
    );
  }

  /**
   * The step to pause every peer at when this one, after `done` steps, asks for a pause. With bounded
   * staleness s the others may be up to s steps further (stale-peer-step.ts) and one more may be under way,
   * so the pause is set beyond the furthest any peer can reach before it sees it.
   */
  private pauseStep(done: number): number {
    const s = this.config.train.maxStaleness;
    return s > 0 ? done + s + 1 : done;
  }

  private async takeSlot(peer: number, state: StoredRunState): Promise<void> {
    this.peer = peer;
    this.slotLost = false;
    this.doneGeneration = -1;
    this.heartbeat.update({
      worker: { peer, status: 'training' },
      slot: { peer, step: state.step ?? 0, status: 'claimed' },
    });
    if (this.runner?.index !== peer) {
      this.runner?.dispose();
      await this.exchange?.close();
      this.runner = await PeerRunner.open(this.config, peer, state.runDir);
      this.exchange = new RedisPeerExchange(
        this.redis,
        peer,
        this.runner.exchangeRules(this.store.runId, exchangeSecretFromEnv()),
        {
          generation: state.generation,
          pollMs: this.opts.pollMs,
          log: (reason, details) => this.log(`rejected a message: ${reason}`, details),
        },
      );
    }
    this.log(`claimed peer ${peer}`);
    await this.store.addMetric({ type: 'worker', workerId: this.workerId, event: 'took-over', peer });
  }

  private dropSlot(): void {
    this.peer = undefined;
    this.slotLost = false;
    this.heartbeat.update({ worker: { peer: null, status: 'idle' }, slot: { peer: null } });
  }

  /** One generation: from its resume step to the end of the run or a pause, unless it is abandoned. */
  private async trainGeneration(state: StoredRunState): Promise<void> {
    const runner = this.runner!;
    const exchange = this.exchange!;
    const peer = this.peer!;
    this.trainedGeneration = state.generation;
    runner.restore(state.resumeStep);
    exchange.setGeneration(state.generation);
    this.log(`peer ${peer}: generation ${state.generation} from step ${state.resumeStep}`);

    let done = state.resumeStep;
    let checkpointed = -1;
    let pauseAt = state.pauseAt;
    const abort = new AbortController();
    const current = (s: StoredRunState | undefined) =>
      !!s &&
      s.generation === state.generation &&
      s.status === 'running' &&
      !this.slotLost &&
      this.peer === peer;
    // While a step waits for its peers: leave it when the generation ends or a pause is set at this step.
    const watch = setInterval(() => {
      void this.store.readState().then(
        (s) => {
          if (!current(s)) abort.abort('generation');
          else if (s!.pauseAt !== undefined && s!.pauseAt <= done) abort.abort('pause');
        },
        () => {},
      );
    }, this.opts.pollMs);

    try {
      done = await trainLoop(runner, exchange, state.resumeStep, {
        // At each step boundary: a leaving worker or a stop request pauses every peer at this step.
        shouldStop: async (d) => {
          done = d;
          const s = await this.store.readState();
          if (!current(s)) {
            abort.abort('generation');
            return true;
          }
          pauseAt = s!.pauseAt;
          if (pauseAt === undefined && (this.leaving || s!.stopRequested))
            pauseAt = await this.store.requestPause(this.pauseStep(d));
          return pauseAt !== undefined && d >= pauseAt;
        },
        signal: () => abort.signal,
        onStep: (r) => {
          done = r.step;
          this.heartbeat.update({
            worker: { stepSeconds: r.stepSeconds },
            slot: { step: r.step, status: 'training' },
          });
          const { loss, base, distill, advAccuracy, lr, stepSeconds, exchangeSeconds, staleness } = r;
          void this.store
            .addMetric({
              type: 'step',
              peer,
              step: r.step,
              // The coordinator's metrics.jsonl keeps a step's numbers from one generation only.
              generation: state.generation,
              loss,
              base,
              distill,
              advAccuracy,
              lr,
              stepSeconds,
              exchangeSeconds,
              ...(staleness !== undefined && { staleness }),
            })
            .catch(() => {});
        },
        onCheckpoint: async (d) => {
          checkpointed = d;
          await this.reportSaved(state.generation, d);
        },
      });
    } catch (err) {
      if (!(err instanceof ExchangeAborted)) throw err;
    } finally {
      clearInterval(watch);
    }
    if (abort.signal.reason === 'generation') {
      this.log(`peer ${peer}: generation ${state.generation} ended at step ${done}`);
      return;
    }
    // Finished or paused at `done`: every peer checkpoints there.
    if (checkpointed !== done) {
      runner.saveCheckpoint(done);
      await this.reportSaved(state.generation, done);
    }
    this.doneGeneration = state.generation;
    this.pausedAt = done;
    this.heartbeat.update({ slot: { step: done, status: done === runner.lastStep ? 'done' : 'paused' } });
    this.log(`peer ${peer}: ${done === runner.lastStep ? 'finished' : 'paused'} at step ${done}`);
  }

  /** Tells the coordinator (checkpoint queue) that this peer's file of the checkpoint at `step` is written. */
  private async reportSaved(generation: number, step: number): Promise<void> {
    const data = { runId: this.store.runId, generation, step, peer: this.peer! };
    await this.checkpoints.add(JOBS.peerSaved, data, {
      jobId: jobIds.peerSaved(this.store.runId, generation, step, this.peer!),
      removeOnComplete: 1000,
      removeOnFail: 1000,
    });
  }

  /**
   * A leaving worker gives its slot back: at once when it trained nothing in this generation, else once
   * the checkpoint it paused at is committed (or after a minute without a coordinator to commit it).
   */
  private async handBack(state: StoredRunState): Promise<boolean> {
    if (this.pausedAt !== undefined && state.generation === this.doneGeneration) {
      const step = this.pausedAt;
      await waitFor(
        async () => {
          const s = await this.store.readState();
          return !s || s.generation !== state.generation || s.checkpointStep >= step || undefined;
        },
        60000,
        this.opts.pollMs,
        () => new Error('timeout'),
      ).catch(() => this.log(`no commit of the checkpoint at step ${step} within a minute; leaving anyway`));
    }
    if (this.peer !== undefined) await this.store.releaseSlot(this.peer, this.workerId);
    this.log(`left peer ${this.peer}`);
    this.dropSlot();
    return true;
  }

  /** Idle time goes to evaluation jobs. */
  private async idle(): Promise<void> {
    let ran = false;
    try {
      ran = await this.evaluations.runOne();
    } catch (err) {
      this.log(`evaluation queue: ${(err as Error).message}`);
    }
    if (!ran) await sleep(this.opts.pollMs);
  }

  private async close(): Promise<void> {
    await this.store
      .addMetric({ type: 'worker', workerId: this.workerId, event: 'left', peer: this.peer ?? null })
      .catch(() => {});
    await this.store.forgetWorker(this.workerId).catch(() => {});
    await this.heartbeat.stop();
    await this.evaluations.close().catch(() => {});
    await this.checkpoints.close().catch(() => {});
    await this.exchange?.close();
    this.runner?.dispose();
    this.redis.disconnect();
  }
}

/** A worker id unique across machines and restarts: host, pid and a random suffix. */
export function newWorkerId(): string {
  return `${os.hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

async function findActiveRun(redis: Redis, timeoutMs: number, pollMs: number): Promise<string> {
  return waitFor(
    async () => {
      const ids = await redis.smembers(RUNS_INDEX_KEY);
      const active = [];
      for (const id of ids) {
        const status = await redis.hget(runKeys(id).state, 'status');
        if (status && !TERMINAL.has(status)) active.push(id);
      }
      if (active.length > 1)
        throw new Error(`several runs are active (${active.sort().join(', ')}): name one with --run`);
      return active[0];
    },
    timeoutMs,
    pollMs,
    () => new Error('no active run in Redis: start one with mat coordinator, or name it with --run'),
  );
}

/** Polls `probe` until it returns a value other than undefined, or throws `onTimeout()`. */
async function waitFor<T>(
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
  pollMs: number,
  onTimeout: () => Error,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > until) throw onTimeout();
    await sleep(pollMs);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
