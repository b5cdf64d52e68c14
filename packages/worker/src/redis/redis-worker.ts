import * as os from 'os';
import type { Redis } from 'ioredis';
import { parseRunConfig, selectBackend, type RunConfig } from '@mat/core';
import {
  connectRedis,
  DEFAULT_QUEUE_PREFIX,
  encodePeerSavedJob,
  exchangeSecretFromEnv,
  JOBS,
  jobIds,
  QUEUES,
  RedisPeerExchange,
  redisOptions,
  redisOutage,
  RunStore,
  type RedisConnection,
  type RunState,
  type WorkerRecord,
} from '@mat/exchange';
import { Queue } from 'bullmq';
import { PeerRunner } from '../peer-runner';
import { EvaluationJobs } from './evaluation-jobs';
import { trainGeneration } from './generation';
import { Heartbeat } from './heartbeat';
import { checkExchangeSecret, findActiveRun, newWorkerId, sleep, waitFor, waitForRun } from './join';
import { RunStatePoller } from './run-state-poller';
import { decideWorker, slotClaimEvent, type WorkerOutcome, type WorkerSelf } from './worker-decisions';

export { newWorkerId } from './join';

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
  /** Leaving (SIGTERM) while a step waits for its peers: how long before it gives the slot back without a checkpoint. @defaultValue 30000 */
  leaveGraceMs?: number;
  /** The clock of the worker's own timeouts (join, leave); leases use Redis's clock. @defaultValue Date.now */
  clock?: () => number;
  workerId?: string;
  /** The GPU lease this worker holds (GpuClaim.lease, `mat worker --gpu auto`): its heartbeat renews it. */
  gpu?: { pool: string; device: string };
  log?: (message: string, fields?: Record<string, unknown>) => void;
}

type ResolvedOptions = WorkerOptions & {
  runId: string;
  queuePrefix: string;
  leaseMs: number;
  pollMs: number;
  leaveGraceMs: number;
  clock: () => number;
};

/**
 * `mat worker`: joins a run, claims a free peer slot (a lease kept alive by a heartbeat thread) or waits
 * as a hot spare, and trains that peer step by step with the others through Redis. Every generation of
 * the run (see redis-keys.ts) starts all peers from the same committed checkpoint, so when a worker is
 * lost the others roll back with the spare that replaces it and the run continues exactly as if nothing
 * had happened. SIGTERM (leave()): finish the step, checkpoint with the others at that step, hand the
 * slot back, exit. What to do next is decideWorker's (./worker-decisions.ts); one generation is
 * ./generation.ts's.
 */
export class RedisWorker {
  private runner: PeerRunner | undefined;
  private exchange: RedisPeerExchange | undefined;
  private leavingSince: number | undefined;
  private readonly self: WorkerSelf = {
    peer: undefined,
    slotLost: false,
    leaving: false,
    trainedGeneration: -1,
    doneGeneration: -1,
    pausedAt: undefined,
    servesAfterSteps: false,
  };
  private readonly poller: RunStatePoller;

  private constructor(
    private readonly opts: ResolvedOptions,
    private readonly redis: Redis,
    private readonly store: RunStore,
    private readonly config: RunConfig,
    private readonly heartbeat: Heartbeat,
    private readonly evaluations: EvaluationJobs,
    private readonly checkpoints: Queue,
    readonly workerId: string,
  ) {
    this.poller = new RunStatePoller(store);
  }

  static async join(options: WorkerOptions): Promise<RedisWorker> {
    const clock = options.clock ?? Date.now;
    const pollMs = options.pollMs ?? 250;
    const joinTimeoutMs = options.joinTimeoutMs ?? 60000;
    const log = options.log ?? (() => {});
    const workerId = options.workerId ?? newWorkerId();
    const redis = await connectRedis(options.conn, { log, name: `mat-worker-${workerId}` });
    let heartbeat: Heartbeat | undefined;
    try {
      const runId = options.runId ?? (await findActiveRun(redis, joinTimeoutMs, pollMs, clock));
      const opts: ResolvedOptions = {
        ...options,
        runId,
        clock,
        pollMs,
        queuePrefix: options.queuePrefix ?? DEFAULT_QUEUE_PREFIX,
        leaseMs: options.leaseMs ?? 10000,
        leaveGraceMs: options.leaveGraceMs ?? 30000,
      };
      const store = new RunStore(redis, runId);
      const raw = await waitForRun(store, { timeoutMs: joinTimeoutMs, pollMs, clock });
      await checkExchangeSecret(store, exchangeSecretFromEnv());
      const config = parseRunConfig(raw, `config of run ${runId}`);
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
        {
          conn: opts.conn,
          runId,
          leaseMs: opts.leaseMs,
          worker: record,
          queuePrefix: opts.queuePrefix,
          gpu: opts.gpu,
        },
        (e) => {
          if (e.type === 'lost') worker.self?.onSlotLost(e.peer);
          else if (e.connection) redisOutage(opts.conn, log).lost(e.message);
          else log(`heartbeat: ${e.message}`);
        },
      );
      const backend = await selectBackend(config.backend);
      heartbeat.update({ worker: { backend: backend.name } });
      const beat = heartbeat;
      const evaluations = new EvaluationJobs(opts.conn, opts.queuePrefix, redis, workerId, {
        leaseMs: opts.leaseMs,
        holdLock: (lock) => beat.update({ evaluation: lock }),
        log,
      });
      const checkpoints = new Queue(QUEUES.checkpoints, {
        connection: redisOptions(opts.conn),
        prefix: opts.queuePrefix,
      });
      checkpoints.on('error', redisOutage(opts.conn, log).listener('checkpoint queue', log));
      worker.self = new RedisWorker(
        opts,
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
    this.self.leaving = true;
    this.leavingSince ??= this.opts.clock();
    this.heartbeat.update({ worker: { status: 'stopping' } });
  }

  private onSlotLost(peer: number): void {
    if (this.self.peer !== peer) return;
    this.log(`lost the lease on peer ${peer} (missed heartbeats); back to waiting`);
    this.self.slotLost = true;
  }

  /** Runs until the run ends or this worker leaves. */
  async run(): Promise<WorkerOutcome> {
    try {
      for (;;) {
        const state = await this.poller.read();
        const action = decideWorker(state, this.self);
        switch (action.type) {
          case 'exit':
            return action.outcome;
          case 'drop-slot':
            this.dropSlot();
            break;
          case 'claim': {
            await checkExchangeSecret(this.store, exchangeSecretFromEnv());
            const peer = await this.store.claimSlot(this.workerId, this.opts.leaseMs, this.config.peers);
            if (peer === undefined) await this.idle();
            else await this.takeSlot(peer, state!);
            break;
          }
          case 'idle':
            await this.idle();
            break;
          case 'serve':
            await this.runner!.serve(this.exchange!, { timeoutMs: this.opts.pollMs });
            break;
          case 'hand-back':
            await this.handBack(state!);
            return 'left';
          case 'train':
            if (await this.train(state!)) return 'left';
            break;
        }
      }
    } finally {
      await this.close();
    }
  }

  private async takeSlot(peer: number, state: RunState): Promise<void> {
    this.self.peer = peer;
    this.self.slotLost = false;
    this.self.doneGeneration = -1;
    this.heartbeat.update({
      worker: { peer, status: 'training' },
      slot: { peer, step: state.step ?? 0, status: 'claimed' },
    });
    if (this.runner?.index !== peer) {
      this.runner?.dispose();
      await this.exchange?.close();
      this.runner = await PeerRunner.open(this.config, peer, state.runDir);
      this.self.servesAfterSteps = this.runner.servesAfterSteps;
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
    const event = slotClaimEvent(state);
    this.log(event === 'claimed' ? `claimed peer ${peer}` : `took over peer ${peer}`);
    await this.store.addMetric({ type: 'worker', workerId: this.workerId, event, peer });
  }

  private dropSlot(): void {
    this.self.peer = undefined;
    this.self.slotLost = false;
    this.heartbeat.update({ worker: { peer: null, status: 'idle' }, slot: { peer: null } });
  }

  /** Trains the current generation; returns true when this worker left in the middle of it. */
  private async train(state: RunState): Promise<boolean> {
    const runner = this.runner!;
    const peer = this.self.peer!;
    this.self.trainedGeneration = state.generation;
    const end = await trainGeneration(
      {
        runner,
        exchange: this.exchange!,
        peer,
        store: this.store,
        poller: this.poller,
        heartbeat: this.heartbeat,
        pollMs: this.opts.pollMs,
        leaveGraceMs: this.opts.leaveGraceMs,
        clock: this.opts.clock,
        leavingSince: () => this.leavingSince,
        holdsSlot: () => !this.self.slotLost && this.self.peer === peer,
        reportSaved: (generation, step) => this.reportSaved(generation, step),
        log: (m) => this.log(m),
      },
      state,
    );
    switch (end.type) {
      case 'abandoned':
        return false;
      case 'diverged':
        // Trained to its end: it waits for the coordinator's decision (a new generation, or the run failed).
        this.self.doneGeneration = state.generation;
        this.self.pausedAt = undefined;
        return false;
      case 'left':
        await this.store.releaseSlot(peer, this.workerId);
        this.log(`left peer ${peer}`);
        this.dropSlot();
        return true;
      case 'paused': {
        this.self.doneGeneration = state.generation;
        this.self.pausedAt = end.at;
        const finished = end.at === runner.lastStep;
        this.heartbeat.update({ slot: { step: end.at, status: finished ? 'done' : 'paused' } });
        this.log(`peer ${peer}: ${finished ? 'finished' : 'paused'} at step ${end.at}`);
        return false;
      }
    }
  }

  /** Tells the coordinator (checkpoint queue) that this peer's file of the checkpoint at `step` is written. */
  private async reportSaved(generation: number, step: number): Promise<void> {
    const peer = this.self.peer!;
    const data = encodePeerSavedJob({ runId: this.store.runId, generation, step, peer });
    await this.checkpoints.add(JOBS.peerSaved, data, {
      jobId: jobIds.peerSaved(this.store.runId, generation, step, peer),
      removeOnComplete: 1000,
      removeOnFail: 1000,
    });
  }

  /**
   * A leaving worker gives its slot back: at once when it trained nothing in this generation, else once
   * the checkpoint it paused at is committed (or after a minute without a coordinator to commit it).
   */
  private async handBack(state: RunState): Promise<void> {
    const { pausedAt, doneGeneration, peer } = this.self;
    if (pausedAt !== undefined && state.generation === doneGeneration) {
      await waitFor(
        async () => {
          const s = await this.poller.read();
          return !s || s.generation !== state.generation || s.checkpointStep >= pausedAt || undefined;
        },
        { timeoutMs: 60000, pollMs: this.opts.pollMs, clock: this.opts.clock },
        () => new Error(`no commit of the checkpoint at step ${pausedAt} within a minute; leaving anyway`),
      ).catch((err: Error) => this.log(err.message));
    }
    if (peer !== undefined) await this.store.releaseSlot(peer, this.workerId);
    this.log(`left peer ${peer}`);
    this.dropSlot();
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
    // Each step is best effort (Redis may be gone by now), and a failure is said, not swallowed.
    const attempt = async (what: string, f: () => Promise<unknown>) => {
      await f().catch((err: Error) => this.log(`${what}: ${err.message}`));
    };
    await attempt('recording that this worker left', () =>
      this.store.addMetric({
        type: 'worker',
        workerId: this.workerId,
        event: 'left',
        peer: this.self.peer ?? null,
      }),
    );
    await attempt('removing the worker record', () => this.store.forgetWorker(this.workerId));
    await this.heartbeat.stop();
    await attempt('closing the evaluation queue', () => this.evaluations.close());
    await attempt('closing the checkpoint queue', () => this.checkpoints.close());
    await this.exchange?.close();
    this.runner?.dispose();
    this.redis.disconnect();
  }
}
