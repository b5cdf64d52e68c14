import * as fs from 'fs';
import * as path from 'path';
import type { Redis } from 'ioredis';
import { Job, Queue, Worker as BullWorker } from 'bullmq';
import {
  commitCheckpoint,
  findLatestCheckpoint,
  loadRunData,
  parseRunConfig,
  RunDirectory,
  RunSchedule,
  type RunConfig,
} from '@mat/core';
import {
  connectRedis,
  DEFAULT_QUEUE_PREFIX,
  JOBS,
  jobIds,
  QUEUES,
  redisOptions,
  RunStore,
  type RedisConnection,
  type RunState,
} from '@mat/exchange';
import type { EvaluationJobData, EvaluationJobResult } from '@mat/worker';
import { LiveMetrics } from './live-metrics';
import { writeRunRecords } from './run-records';

export interface CoordinatorOptions {
  conn: RedisConnection;
  /** The run's config (a new run), or that of the run to resume; a run already in Redis keeps its own. */
  config: RunConfig;
  /** The config is that of the run directory, continued on purpose (mat coordinator --resume). */
  resume?: boolean;
  /** A run Redis does not know replaces the files of another run in its directory (instead of an error). */
  overwrite?: boolean;
  /** @defaultValue config.name */
  runId?: string;
  /** BullMQ key prefix. @defaultValue 'bull' */
  queuePrefix?: string;
  /** How often the coordinator looks at leases and the run's state. @defaultValue 250 */
  pollMs?: number;
  /** Extra time after a lease runs out before its worker counts as lost. @defaultValue 0 */
  graceMs?: number;
  log?: (message: string, fields?: Record<string, unknown>) => void;
}

export interface CoordinatorOutcome {
  status: 'finished' | 'stopped' | 'failed' | 'detached';
  runId: string;
  runDir: string;
}

/** Job data of the control queue: enough for any coordinator (same queue prefix) to act on the run. */
interface ControlJobData {
  runId: string;
  config?: RunConfig;
  state?: RunState;
}

interface PeerSavedJobData {
  runId: string;
  generation: number;
  step: number;
  peer: number;
}

/**
 * `mat coordinator`: creates a run in Redis (or resumes it), then watches it until it ends:
 *   - generations: once every peer slot is held, all peers start together from the newest committed
 *     checkpoint; a lost worker (lease run out) ends the generation, and the next one starts when a spare
 *     or a restarted worker holds the slot again — every peer rolls back to the same step;
 *   - checkpoints: workers write their own peer's file and report it on the checkpoint queue; the
 *     coordinator commits (manifest, latest.json) when every peer's file of a step is there;
 *   - metrics: runDir/metrics.jsonl gains each step's line once every peer has reported it (LiveMetrics);
 *   - the end: the final checkpoint's evaluation jobs (one per peer, run by idle workers), then
 *     summary.json and a clean metrics.jsonl in the run directory, as `mat train` writes them.
 * The coordinator holds no state of its own: killed and restarted, it picks the run up where it is; if
 * Redis loses the run (restart without persistence), it registers it again from the run directory.
 */
export class Coordinator {
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  private finish?: (o: CoordinatorOutcome) => void;
  private readonly log: NonNullable<CoordinatorOptions['log']>;
  private readonly metrics: LiveMetrics;

  private constructor(
    private readonly opts: CoordinatorOptions & { pollMs: number; queuePrefix: string; runId: string },
    private readonly redis: Redis,
    private readonly store: RunStore,
    private readonly config: RunConfig,
    private readonly dir: RunDirectory,
    private readonly schedule: RunSchedule,
    private readonly queues: { control: Queue; evaluations: Queue },
    private readonly workers: BullWorker[],
  ) {
    this.log = opts.log ?? (() => {});
    this.metrics = new LiveMetrics(store, dir.path, { peers: config.peers, schedule }, this.log);
  }

  get runDir(): string {
    return this.dir.path;
  }

  static async start(options: CoordinatorOptions): Promise<Coordinator> {
    const opts = {
      ...options,
      pollMs: options.pollMs ?? 250,
      queuePrefix: options.queuePrefix ?? DEFAULT_QUEUE_PREFIX,
      runId: options.runId ?? options.config.name,
    };
    const log = opts.log ?? (() => {});
    const redis = await connectRedis(opts.conn, { log, name: `mat-coordinator-${opts.runId}` });
    const connection = redisOptions(opts.conn);
    const store = new RunStore(redis, opts.runId);
    try {
      const config = await runConfigOf(store, opts, log);
      const dir = new RunDirectory(path.resolve(config.outDir, config.name));
      const { batcher } = await loadRunData(config);
      const schedule = new RunSchedule(config, batcher.batchesPerEpoch);
      const queues = {
        control: new Queue(QUEUES.control, { connection, prefix: opts.queuePrefix }),
        evaluations: new Queue(QUEUES.evaluations, { connection, prefix: opts.queuePrefix }),
      };
      const holder: { self?: Coordinator } = {};
      const workers = [
        new BullWorker<ControlJobData>(QUEUES.control, (job) => holder.self!.onControl(job), {
          connection,
          prefix: opts.queuePrefix,
        }),
        new BullWorker<PeerSavedJobData>(QUEUES.checkpoints, (job) => holder.self!.onPeerSaved(job), {
          connection,
          prefix: opts.queuePrefix,
          lockDuration: 15000,
        }),
      ];
      for (const w of workers) w.on('error', (err) => log(`queue ${w.name}: ${err.message}`));
      for (const q of Object.values(queues)) q.on('error', (err) => log(`queue ${q.name}: ${err.message}`));
      holder.self = new Coordinator(opts, redis, store, config, dir, schedule, queues, workers);
      return holder.self;
    } catch (err) {
      redis.disconnect();
      throw err;
    }
  }

  get runId(): string {
    return this.opts.runId;
  }

  /** Registers or resumes the run and watches it until it ends (or until detach()). */
  async run(): Promise<CoordinatorOutcome> {
    const state = await this.store.readState();
    if (state && state.status === 'finished') return this.outcome('finished');
    let fresh = false;
    if (!state || state.status === 'stopped' || state.status === 'failed') fresh = await this.register(state);
    else this.log(`run ${this.runId} is ${state.status} at step ${state.step}: watching it again`);
    await this.metrics.open({ fresh });
    const done = new Promise<CoordinatorOutcome>((resolve) => (this.finish = resolve));
    this.timer = setInterval(() => void this.tick(), this.opts.pollMs);
    return done;
  }

  /** Stops watching (SIGTERM): the workers go on; a restarted coordinator picks the run up. */
  detach(): void {
    this.finish?.(this.outcome('detached'));
  }

  private outcome(status: CoordinatorOutcome['status']): CoordinatorOutcome {
    return { status, runId: this.runId, runDir: this.runDir };
  }

  /**
   * Creates (or re-creates) the run in Redis through the control queue, from the run directory. Returns
   * whether the run starts from scratch (no checkpoint).
   */
  private async register(previous: RunState | undefined): Promise<boolean> {
    const latest = findLatestCheckpoint(this.runDir);
    if (!latest) this.dir.writeConfig(this.config);
    const generation = Math.max(previous?.generation ?? 0, this.dir.readCoordinatorRecord()?.generation ?? 0);
    // The directory is this run's from now on (a restarted coordinator of the same run id may resume it).
    this.dir.writeCoordinatorRecord({ runId: this.runId, generation });
    const resumeStep = Math.min(latest?.step ?? 0, this.schedule.lastStep);
    const now = Date.now();
    const state: RunState = {
      status: 'waiting',
      generation,
      resumeStep,
      lastStep: this.schedule.lastStep,
      totalSteps: this.schedule.totalSteps,
      step: resumeStep,
      peers: this.config.peers,
      checkpointStep: latest?.step ?? 0,
      runDir: this.runDir,
      createdAt: previous?.createdAt ?? now,
      updatedAt: now,
    };
    const name = latest ? JOBS.resume : JOBS.create;
    await this.queues.control.add(
      name,
      { runId: this.runId, config: this.config, state },
      { removeOnComplete: 100 },
    );
    const until = Date.now() + 30000;
    while (!(await this.store.readState())) {
      if (Date.now() > until)
        throw new Error(`the control queue did not register run ${this.runId} within 30 s`);
      await sleep(50);
    }
    this.log(
      latest
        ? `run ${this.runId}: resuming from the checkpoint at step ${latest.step} (${this.runDir})`
        : `run ${this.runId}: created (${this.runDir}); waiting for ${this.config.peers} workers`,
    );
    return !latest;
  }

  /** Control jobs (any coordinator on this queue prefix may run them: they carry what they need). */
  private async onControl(job: Job<ControlJobData>): Promise<unknown> {
    const store = new RunStore(this.redis, job.data.runId);
    if ((job.name === JOBS.create || job.name === JOBS.resume) && job.data.config && job.data.state) {
      await store.create(job.data.config, job.data.state);
      await store.addMetric({ type: 'run', event: job.name, step: job.data.state.resumeStep });
      return { registered: true };
    }
    if (job.name === JOBS.stop) {
      await store.writeState({ stopRequested: true });
      await store.addMetric({ type: 'run', event: 'stop-requested' });
      return { stopRequested: true };
    }
    throw new Error(`unknown control job "${job.name}"`);
  }

  /** A worker wrote its peer's file of a checkpoint; commit once every peer's is there. */
  private async onPeerSaved(job: Job<PeerSavedJobData>): Promise<unknown> {
    const { runId, generation, step, peer } = job.data;
    const store = new RunStore(this.redis, runId);
    const state = await store.readState();
    if (!state) return { skipped: 'unknown run' };
    const saved = await store.countSaved(generation, step, peer);
    if (saved < state.peers) return { saved };
    const config = parseRunConfig(await store.readConfig(), `config of run ${runId}`);
    const dir = commitCheckpoint(state.runDir, {
      step,
      seed: config.seed,
      peers: state.peers,
      arch: config.model.arch,
    });
    await store.writeState({ checkpointStep: Math.max(state.checkpointStep, step) });
    await store.addMetric({ type: 'checkpoint', step, dir });
    const schedule = new RunSchedule(config, state.totalSteps / config.train.epochs);
    if (step === state.lastStep) {
      await store.writeState({ status: 'evaluating' });
      await this.enqueueEvaluations(runId, state.peers, step, dir, true);
    } else if (schedule.epochEvalDue(step)) {
      await this.enqueueEvaluations(runId, state.peers, step, dir, false);
    }
    return { committed: dir };
  }

  private async enqueueEvaluations(runId: string, peers: number, step: number, dir: string, final: boolean) {
    for (let peer = 0; peer < peers; peer++) {
      const data: EvaluationJobData = { runId, step, peer, dir, final };
      await this.queues.evaluations.add(JOBS.evaluate, data, {
        jobId: jobIds.evaluate(runId, step, peer),
        attempts: 2,
      });
    }
  }

  private async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      await this.watch();
    } catch (err) {
      this.log(`coordinator: ${(err as Error).message}`);
    }
    try {
      await this.metrics.poll();
    } catch (err) {
      this.log(`metrics.jsonl: ${(err as Error).message}`);
    }
    this.busy = false;
  }

  /** One look at the run: lost workers, the next generation, pauses, the end. */
  private async watch(): Promise<void> {
    let state = await this.store.readState();
    if (!state) {
      this.log(`run ${this.runId} is gone from Redis (restarted?): registering it again`);
      await this.register(undefined);
      // Its metrics stream is gone too: the new one is read from its start.
      this.metrics.rewind();
      return;
    }
    if (state.status === 'finished' || state.status === 'stopped' || state.status === 'failed') {
      return this.end(state.status);
    }
    const lost = await this.store.expireLeases(this.opts.graceMs ?? 0);
    for (const { peer, workerId } of lost) {
      this.log(`worker ${workerId} lost (no heartbeat): peer ${peer} is free for a spare`);
      await this.store.addMetric({ type: 'worker', workerId, event: 'lost', peer });
    }
    const slots = await this.store.readSlots();
    const active = state.status === 'running' || state.status === 'paused';
    // A lost worker ends its generation even when a spare (or the same container, restarted) already
    // claimed the freed slot between the expiry and this read: the spare starts from the last committed
    // checkpoint, so every peer must roll back with it.
    if (active && (lost.length > 0 || slots.size < state.peers)) {
      await this.store.writeState({ status: 'waiting' });
      state = { ...state, status: 'waiting' };
    }
    if (state.status === 'waiting' && slots.size === state.peers) await this.nextGeneration(state);
    else if (state.status === 'running' && (await this.pauseSettled(state, slots.size))) {
      // Every peer checkpointed where a leaving worker paused them, and its slot has a new holder.
      await this.nextGeneration(state);
      return;
    }
    if (state.status === 'running') {
      const steps = [...slots.values()].map((s) => s.step).filter((s) => s >= 0);
      const step = steps.length === state.peers ? Math.min(...steps) : state.step;
      if (step !== state.step) await this.store.writeState({ step });
      if (state.stopRequested && state.pauseAt !== undefined && state.checkpointStep >= state.pauseAt) {
        await this.store.writeState({ status: 'stopped' });
        await this.writeRecords(state, false);
        return this.end('stopped');
      }
    }
    if (state.status === 'evaluating') await this.checkEvaluations(state);
  }

  /** A pause (not a stop) whose checkpoint is committed, every slot held by a worker that is not leaving. */
  private async pauseSettled(state: RunState, held: number): Promise<boolean> {
    if (state.pauseAt === undefined || state.stopRequested || state.checkpointStep < state.pauseAt)
      return false;
    if (held < state.peers) return false;
    const slots = await this.store.readSlots();
    const leaving = new Set(
      (await this.store.readWorkers()).filter((w) => w.status === 'stopping').map((w) => w.workerId),
    );
    return [...slots.values()].every((s) => !leaving.has(s.workerId));
  }

  /** Every slot is held: all peers start together from the newest committed checkpoint. */
  private async nextGeneration(state: RunState): Promise<void> {
    const latest = findLatestCheckpoint(this.runDir);
    const resumeStep = Math.min(latest?.step ?? 0, state.lastStep);
    const generation = Math.max(state.generation, this.dir.readCoordinatorRecord()?.generation ?? 0) + 1;
    this.dir.writeCoordinatorRecord({ runId: this.runId, generation });
    await this.store.deleteGeneration(state.generation);
    if (resumeStep >= state.lastStep) {
      await this.store.writeState({ status: 'evaluating', generation, resumeStep, step: resumeStep });
      await this.enqueueEvaluations(this.runId, state.peers, resumeStep, latest!.dir, true);
      return;
    }
    await this.store.writeState({
      status: 'running',
      generation,
      resumeStep,
      step: resumeStep,
      pauseAt: undefined,
    });
    await this.store.addMetric({ type: 'run', event: 'generation', generation, step: resumeStep });
    this.log(`generation ${generation}: all ${state.peers} peers start from step ${resumeStep}`);
  }

  private async checkEvaluations(state: RunState): Promise<void> {
    const results: EvaluationJobResult[] = [];
    for (let peer = 0; peer < state.peers; peer++) {
      const job = await Job.fromId<EvaluationJobData, EvaluationJobResult>(
        this.queues.evaluations,
        jobIds.evaluate(this.runId, state.lastStep, peer),
      );
      if (!job) {
        const dir = path.join(this.runDir, 'checkpoints', `step-${String(state.lastStep).padStart(8, '0')}`);
        await this.enqueueEvaluations(this.runId, state.peers, state.lastStep, dir, true);
        return;
      }
      if (await job.isFailed()) {
        await this.store.writeState({
          status: 'failed',
          error: `evaluation of peer ${peer}: ${job.failedReason}`,
        });
        return this.end('failed');
      }
      if (!(await job.isCompleted())) return;
      // The job may have completed after it was read above (its result was null then): read it again.
      const completed = await Job.fromId<EvaluationJobData, EvaluationJobResult>(
        this.queues.evaluations,
        job.id!,
      );
      results.push(completed!.returnvalue);
    }
    await this.writeRecords(state, true, results);
    await this.store.writeState({ status: 'finished', step: state.lastStep });
    await this.store.addMetric({ type: 'run', event: 'finished', step: state.lastStep });
    this.log(`run ${this.runId} finished: ${this.runDir}`);
    return this.end('finished');
  }

  private async writeRecords(state: RunState, finished: boolean, results: EvaluationJobResult[] = []) {
    await writeRunRecords(this.metrics, {
      runId: this.runId,
      runDir: this.runDir,
      state,
      schedule: this.schedule,
      batchSize: this.config.train.batchSize,
      finished,
      final: results,
    });
  }

  private end(status: CoordinatorOutcome['status']): void {
    this.finish?.(this.outcome(status));
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    while (this.busy) await sleep(20);
    await Promise.all(this.workers.map((w) => w.close().catch(() => {})));
    await Promise.all(Object.values(this.queues).map((q) => q.close().catch(() => {})));
    this.redis.disconnect();
  }
}

/**
 * The run's config: the one in Redis for a run Redis knows; else, for a run directory with checkpoints,
 * its config.json (a resumed run keeps its config; only how far it goes may change); else the given one.
 * A run Redis does not know may use its directory only when that is empty, holds this run (coordinator.json
 * names the run id: Redis lost the run) or is resumed on purpose; else it would mix with another run.
 */
async function runConfigOf(
  store: RunStore,
  opts: Pick<CoordinatorOptions, 'config' | 'resume' | 'overwrite'>,
  log: (message: string) => void,
): Promise<RunConfig> {
  const given = opts.config;
  const stored = await store.readConfig();
  if (stored) return parseRunConfig(stored, `config of run ${store.runId} in Redis`);
  const dir = new RunDirectory(path.resolve(given.outDir, given.name));
  const ours = dir.readCoordinatorRecord()?.runId === store.runId;
  if (opts.overwrite || (!opts.resume && !ours)) {
    dir.prepareNew({
      overwrite: opts.overwrite,
      howToContinue:
        `continue it with mat coordinator --resume ${dir.path}, choose another --name, ` +
        'or pass --overwrite to delete its files and start anew',
    });
    return given;
  }
  const file = dir.configFile;
  if (!dir.checkpointToResume(log) || !fs.existsSync(file)) return given;
  const onDisk = parseRunConfig(dir.readConfig(), file);
  return parseRunConfig({
    ...onDisk,
    outDir: given.outDir,
    train: { ...onDisk.train, maxSteps: given.train.maxSteps ?? onDisk.train.maxSteps },
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
