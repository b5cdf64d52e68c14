import * as path from 'path';
import type { Redis } from 'ioredis';
import { Queue, Worker as BullWorker } from 'bullmq';
import {
  findLatestCheckpoint,
  loadRunData,
  pruneCheckpoints,
  RunDirectory,
  RunSchedule,
  type MissingEvaluation,
  type RunConfig,
} from '@mat/core';
import {
  connectRedis,
  ContractError,
  ErrorOnce,
  DEFAULT_QUEUE_PREFIX,
  encodeRegisterJob,
  JOBS,
  QUEUES,
  redisOptions,
  redisOutage,
  RunStore,
  type EvaluationJobResult,
  type RedisConnection,
  type RunState,
  type SlotLease,
} from '@mat/exchange';
import { ControlJobs } from './control-jobs';
import {
  decideCoordinator,
  slowestStep,
  type CoordinatorAction,
  type CoordinatorPolicy,
  type RunView,
} from './coordinator-decisions';
import { Evaluations } from './evaluations';
import { LiveMetrics } from './live-metrics';
import { runConfigOf } from './run-config';
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
  /** How long a stop may wait for every peer to reach a common step before it is forced. @defaultValue 60000 */
  stopGraceMs?: number;
  /**
   * How long the run's state may stay malformed in Redis before it is replaced by registering the run again
   * from its directory. @defaultValue 30000
   */
  unreadableGraceMs?: number;
  /**
   * How long every slot may be held with no peer taking a step before the run restarts from its last
   * checkpoint (at least STALL_STEPS times the slowest peer's step time). @defaultValue 600000
   */
  stallGraceMs?: number;
  /** The clock stop requests are timed with (tests inject one). @defaultValue Date.now */
  clock?: () => number;
  log?: (message: string, fields?: Record<string, unknown>) => void;
  /** One progress line per this interval (step, losses, pace, ETA). @defaultValue DEFAULT_PROGRESS_MS */
  progressEveryMs?: number;
}

export interface CoordinatorOutcome {
  status: 'finished' | 'stopped' | 'failed' | 'detached';
  runId: string;
  runDir: string;
  /** Why the run failed. */
  error?: string;
}

/**
 * `mat coordinator`: creates a run in Redis (or resumes it), then watches it until it ends:
 *   - generations: once every peer slot is held, all peers start together from the newest committed
 *     checkpoint; a lost worker (lease run out) ends the generation, and the next one starts when a spare
 *     or a restarted worker holds the slot again — every peer rolls back to the same step;
 *   - checkpoints: workers write their own peer's file and report it on the checkpoint queue; the
 *     coordinator commits (manifest, latest.json) when every peer's file of a step is there (control-jobs.ts);
 *   - metrics: runDir/metrics.jsonl gains each step's line once every peer has reported it (LiveMetrics);
 *   - divergence: a worker reports its peer's DivergenceError; the run fails, or rolls back (onDivergence);
 *   - stop: every peer checkpoints at a common step, or after stopGraceMs the run stops at its last checkpoint;
 *   - the end: the final checkpoint's evaluation jobs (one per peer, run by idle workers), then
 *     summary.json and a clean metrics.jsonl in the run directory, as `mat train` writes them.
 * What to do is decided by decideCoordinator (./coordinator-decisions.ts) from what the tick reads; this
 * class reads and acts. It holds no state of its own: killed and restarted, it picks the run up where it
 * is; if Redis loses the run (restart without persistence), it registers it again from the run directory.
 */
export class Coordinator {
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  /** Since when the state has been malformed (undefined while it reads, or is absent). */
  private unreadableSince: number | undefined;
  /** The generation and slowest slot step of the last look, and since when they have been so (stalls). */
  private progress = { key: '', since: 0 };
  /** The checkpoint step the last stall restarted the run from: a second stall from it fails the run. */
  private stalledFrom: number | undefined;
  /** Each tick phase's errors: the same error at every tick is said once, not 4 times a second. */
  private readonly tickErrors: { watch: ErrorOnce; metrics: ErrorOnce };
  private finish?: (o: CoordinatorOutcome) => void;
  private readonly log: NonNullable<CoordinatorOptions['log']>;
  private readonly metrics: LiveMetrics;
  private readonly evaluations: Evaluations;
  private readonly clock: () => number;
  /** What decideCoordinator is given with every look: the options' graces (defaults filled in) and the config's. */
  private readonly policy: CoordinatorPolicy;

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
    this.tickErrors = { watch: new ErrorOnce(this.log), metrics: new ErrorOnce(this.log) };
    this.clock = opts.clock ?? Date.now;
    this.policy = {
      stopGraceMs: opts.stopGraceMs ?? 60000,
      unreadableGraceMs: opts.unreadableGraceMs ?? 30000,
      stallGraceMs: opts.stallGraceMs ?? 600000,
      onDivergence: config.train.onDivergence,
    };
    this.metrics = new LiveMetrics(store, dir.path, { peers: config.peers, schedule }, this.log, {
      progressEveryMs: opts.progressEveryMs,
    });
    this.evaluations = new Evaluations(queues.evaluations, opts.runId);
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
      const jobs = new ControlJobs(
        redis,
        (runId) => new Evaluations(queues.evaluations, runId),
        opts.clock ?? Date.now,
      );
      const workers = [
        new BullWorker<unknown>(QUEUES.control, (job) => jobs.onControl(job), {
          connection,
          prefix: opts.queuePrefix,
        }),
        new BullWorker<unknown>(QUEUES.checkpoints, (job) => jobs.onPeerSaved(job), {
          connection,
          prefix: opts.queuePrefix,
          lockDuration: 15000,
        }),
      ];
      // A Redis outage is one line when it starts and one when it ends, not one per client and retry.
      const outage = redisOutage(opts.conn, log);
      for (const w of workers) {
        w.on('error', outage.listener(`queue ${w.name}`, log));
        // A failed job is retried by nobody: say so (a commit that failed leaves the run at its last checkpoint).
        w.on('failed', (job, err) =>
          log(`queue ${w.name}: job ${job?.name ?? '?'} (${job?.id ?? '?'}) failed: ${err.message}`),
        );
      }
      for (const q of Object.values(queues)) q.on('error', outage.listener(`queue ${q.name}`, log));
      return new Coordinator(opts, redis, store, config, dir, schedule, queues, workers);
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

  private outcome(status: CoordinatorOutcome['status'], error?: string): CoordinatorOutcome {
    return { status, runId: this.runId, runDir: this.runDir, ...(error !== undefined && { error }) };
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
    const now = this.clock();
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
      encodeRegisterJob({ runId: this.runId, config: { ...this.config }, state }),
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

  private async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    await this.tickPhase(this.tickErrors.watch, 'coordinator', () => this.watch());
    await this.tickPhase(this.tickErrors.metrics, 'metrics.jsonl', () => this.metrics.poll());
    this.busy = false;
  }

  private async tickPhase(errors: ErrorOnce, what: string, phase: () => Promise<unknown>): Promise<void> {
    try {
      await phase();
      errors.clear();
    } catch (err) {
      errors.report(what, err);
    }
  }

  /** The state, or why it cannot be read (a malformed one: ContractError) and since when. */
  private async readState(): Promise<Pick<RunView, 'state' | 'unreadable'>> {
    try {
      const state = await this.store.readState();
      this.unreadableSince = undefined;
      return { state };
    } catch (err) {
      if (!(err instanceof ContractError)) throw err;
      if (this.unreadableSince === undefined) {
        this.unreadableSince = this.clock();
        this.log(
          `error: ${err.message}; unless it is readable again within ` +
            `${seconds(this.policy.unreadableGraceMs)}, the run is registered again from ${this.runDir}`,
        );
      }
      return { state: undefined, unreadable: { reason: err.message, since: this.unreadableSince } };
    }
  }

  /** One look at the run (lost workers first), then what decideCoordinator says to do. */
  private async watch(): Promise<void> {
    const { state, unreadable } = await this.readState();
    let lost = 0;
    if (state && !['finished', 'stopped', 'failed'].includes(state.status)) {
      for (const { peer, workerId } of await this.store.expireLeases(this.opts.graceMs ?? 0)) {
        lost++;
        this.log(`worker ${workerId} lost (no heartbeat): peer ${peer} is free for a spare`);
        await this.store.addMetric({ type: 'worker', workerId, event: 'lost', peer });
      }
    }
    const slots = state ? await this.store.readSlots() : new Map<number, SlotLease>();
    const holders = new Set([...slots.values()].map((s) => s.workerId));
    const workers = state ? (await this.store.readWorkers()).filter((w) => holders.has(w.workerId)) : [];
    const slotSteps = [...slots.values()].map((s) => s.step);
    const now = this.clock();
    const key = `${state?.generation}:${slowestStep(slotSteps)}`;
    if (key !== this.progress.key) this.progress = { key, since: now };
    const actions = decideCoordinator(
      {
        state,
        unreadable,
        held: slots.size,
        lost,
        slotSteps,
        holderLeaving: workers.some((w) => w.status === 'stopping'),
        now,
        progressSince: this.progress.since,
        slowestStepMs: Math.max(0, ...workers.map((w) => (w.stepSeconds ?? 0) * 1000)),
        stalledFrom: this.stalledFrom,
      },
      this.policy,
    );
    for (const action of actions) await this.act(action, state!);
  }

  private async act(action: CoordinatorAction, state: RunState): Promise<void> {
    switch (action.type) {
      case 'register':
        this.log(`run ${this.runId} is gone from Redis (restarted?): registering it again`);
        return this.registerAgain();
      case 'replace-unreadable':
        this.log(
          `error: the state of run ${this.runId} in Redis has been unreadable for ` +
            `${seconds(this.policy.unreadableGraceMs)} (${action.reason}): ` +
            `replacing it by registering the run again from ${this.runDir}`,
        );
        await this.store.discardState();
        return this.registerAgain();
      case 'end':
        return this.end(action.status, state.error);
      case 'fail':
        return this.fail(state, action.reason);
      case 'rollback':
        this.log(`warning: ${action.reason}`);
        await this.store.writeState({ rolledBackFrom: action.divergedAt, divergence: undefined });
        return this.restartFromCheckpoint(state, 'rollback', action.reason);
      case 'restart-stalled':
        this.log(`warning: run ${this.runId} stalled: ${action.reason}`);
        this.stalledFrom = state.checkpointStep;
        return this.restartFromCheckpoint(state, 'stalled', action.reason);
      case 'wait-for-workers':
        await this.store.writeState({ status: 'waiting' });
        return;
      case 'next-generation':
        return this.nextGeneration(state);
      case 'record-step':
        await this.store.writeState({ step: action.step });
        return;
      case 'stop': {
        if (action.forced) {
          this.log(
            `the peers did not reach a common step within ${seconds(this.policy.stopGraceMs)} ` +
              `of the stop request: the run stops at its last checkpoint, step ${state.checkpointStep}`,
          );
        }
        await this.store.writeState({ status: 'stopped' });
        await this.store.addMetric({ type: 'run', event: 'stopped', step: state.checkpointStep });
        await this.writeRecords(state, false, [], undefined, await this.evaluationsNotDone(state));
        return this.end('stopped');
      }
      case 'check-evaluations':
        return this.checkEvaluations(state);
    }
  }

  /** A rollback or a stall: the event in the metrics stream, then every peer from the last checkpoint. */
  private async restartFromCheckpoint(
    state: RunState,
    event: 'rollback' | 'stalled',
    reason: string,
  ): Promise<void> {
    await this.store.addMetric({ type: 'run', event, step: state.checkpointStep, reason });
    await this.nextGeneration(state);
  }

  private async registerAgain(): Promise<void> {
    await this.register(undefined);
    // Its metrics stream is gone too: the new one is read from its start.
    this.metrics.rewind();
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
      await this.evaluations.enqueue(state.peers, resumeStep, latest!.dir, true);
      return;
    }
    await this.store.writeState({
      status: 'running',
      generation,
      resumeStep,
      step: resumeStep,
      pauseAt: undefined,
      divergence: undefined,
    });
    await this.store.addMetric({ type: 'run', event: 'generation', generation, step: resumeStep });
    this.log(`generation ${generation}: all ${state.peers} peers start from step ${resumeStep}`);
  }

  /** A stopped run: the evaluations scheduled up to its last checkpoint that have not been done (summary.json). */
  private async evaluationsNotDone(state: RunState): Promise<MissingEvaluation[]> {
    try {
      const outcome = await this.evaluations.check({
        ...this.scheduledEvaluations(state),
        stoppedAt: state.checkpointStep,
      });
      const missing = outcome.type === 'ended' ? outcome.missing : [];
      if (missing.length > 0)
        this.log(
          `${missing.length} scheduled evaluation(s) not done when the run stopped (summary.json lists them); ` +
            'resuming the run does them',
        );
      return missing;
    } catch (err) {
      // The run stops anyway; its summary then does not list them, and the log says why.
      this.log(`error: the evaluations of the stopped run could not be read: ${(err as Error).message}`);
      return [];
    }
  }

  private scheduledEvaluations(state: RunState) {
    let evaluated: Set<number> | undefined;
    return {
      runDir: this.runDir,
      peers: state.peers,
      epochSteps: this.schedule.epochEvalSteps(),
      lastStep: state.lastStep,
      evaluated: (step: number) => (evaluated ??= this.metrics.evaluatedSteps()).has(step),
    };
  }

  /**
   * Training is over: once every scheduled evaluation has ended, the run finishes — or fails when the final
   * evaluation could not be done. An epoch evaluation that could not be done is an error in the log, the
   * metrics stream and summary.json (missingEvaluations), never left out silently.
   */
  private async checkEvaluations(state: RunState): Promise<void> {
    const outcome = await this.evaluations.check(this.scheduledEvaluations(state));
    if (outcome.type === 'pending') return;
    const { final, missing } = outcome;
    const describe = (m: MissingEvaluation[]) =>
      m.map((e) => `peer ${e.peer} at step ${e.step}: ${e.reason}`).join('; ');
    const finalMissing = missing.filter((m) => m.step === state.lastStep);
    if (finalMissing.length > 0)
      return this.fail(
        state,
        `the final evaluation could not be done (${describe(finalMissing)})`,
        final,
        missing,
      );
    if (missing.length > 0) {
      this.log(
        `error: run ${this.runId}: ${missing.length} scheduled evaluation(s) could not be done ` +
          `(${describe(missing)}); summary.json lists them (missingEvaluations)`,
      );
      for (const m of missing)
        await this.store.addMetric({
          type: 'run',
          event: 'evaluation-missing',
          step: m.step,
          reason: `peer ${m.peer}: ${m.reason}`,
        });
    }
    await this.writeRecords(state, true, final, undefined, missing);
    // Checkpoints kept for their evaluation (pinned) are not needed any more.
    pruneCheckpoints(this.runDir);
    await this.store.writeState({ status: 'finished', step: state.lastStep });
    await this.store.addMetric({ type: 'run', event: 'finished', step: state.lastStep });
    this.log(`run ${this.runId} finished: ${this.runDir}`);
    return this.end('finished');
  }

  /** Ends the run as failed: the reason in its state, metrics stream, summary.json and log. */
  private async fail(
    state: RunState,
    reason: string,
    results: EvaluationJobResult[] = [],
    missing: MissingEvaluation[] = [],
  ): Promise<void> {
    this.log(`error: run ${this.runId} failed: ${reason}`);
    await this.store.writeState({ status: 'failed', error: reason });
    await this.store.addMetric({ type: 'run', event: 'failed', step: state.checkpointStep, reason });
    try {
      await this.writeRecords(state, false, results, reason, missing);
    } catch (err) {
      this.log(`summary.json of the failed run: ${(err as Error).message}`);
    }
    return this.end('failed', reason);
  }

  private async writeRecords(
    state: RunState,
    finished: boolean,
    results: EvaluationJobResult[] = [],
    error?: string,
    missing?: MissingEvaluation[],
  ) {
    await writeRunRecords(this.metrics, {
      runId: this.runId,
      runDir: this.runDir,
      state,
      schedule: this.schedule,
      batchSize: this.config.train.batchSize,
      finished,
      final: results,
      error,
      missingEvaluations: missing,
    });
  }

  private end(status: CoordinatorOutcome['status'], error?: string): void {
    this.finish?.(this.outcome(status, error));
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    while (this.busy) await sleep(20);
    for (const closing of [...this.workers, ...Object.values(this.queues)]) {
      // Closing is best effort (Redis may be gone), but never silent.
      await closing.close().catch((err: Error) => this.log(`closing queue ${closing.name}: ${err.message}`));
    }
    this.redis.disconnect();
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A grace as the log says it: "30 s". */
const seconds = (ms: number) => `${(ms / 1000).toFixed(0)} s`;
