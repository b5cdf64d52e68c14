import { fork, type ChildProcess } from 'child_process';
import { randomBytes } from 'crypto';
import * as os from 'os';
import {
  commitCheckpoint,
  decideOnDivergence,
  findLatestCheckpoint,
  type DivergenceReport,
  type MetricsAppender,
  loadRunData,
  openRunDirectory,
  RunSchedule,
  StepAggregator,
  type EvalEvent,
  type OpenRunOptions,
  type RunConfig,
  type RunDirectory,
  type RunEvents,
  type RunSummary,
  PhaseClock,
} from '@mat/core';
import { EXCHANGE_SECRET_ENV, routeExchange } from '@mat/exchange';
import { childMainPath, isChildMessage, type ChildMessage, type ParentMessage } from '@mat/worker';

/**
 * `mat train --runtime auto`: one process per peer when that is faster and safe — at least 2 peers and 2
 * cores, and a backend that computes on one core per process (wasm, cpu, or native with one thread). The
 * tensorflow backend stays in-process: every process would claim the whole GPU's memory.
 */
export function autoRuntime(
  peers: number,
  backend: string,
  cores = os.cpus().length,
): 'processes' | 'in-process' {
  const oneCore =
    backend === 'wasm' ||
    backend === 'cpu' ||
    (backend === 'native' && Number(process.env.MAT_NATIVE_THREADS ?? 1) <= 1);
  return peers >= 2 && cores >= 2 && oneCore ? 'processes' : 'in-process';
}

/**
 * The embedded distributed runtime (`mat train --runtime processes`): one child process per peer on this
 * machine, the parent routing their messages over IPC — no Redis, no Docker. The children run the same
 * worker loop as `mat worker`; this parent plays the coordinator: it commits a checkpoint once every
 * peer's file is written and turns the peers' reports into the in-process trainer's records (the run
 * directory, schedule and metrics lines of @mat/core's run lifecycle), whose results it reproduces exactly.
 */
export class ProcessTrainer {
  private children: ChildProcess[] = [];
  private reported = new Map<number, number>();
  private pauseAt: number | undefined;
  /** Set when a stop request was not honoured in time: the children were killed on purpose. */
  private forcedStop = false;
  private stopTimer: NodeJS.Timeout | undefined;
  /** Peers evaluating (between their eval-start and eval messages). */
  private readonly evaluating = new Set<number>();
  /** The key of this run's exchange MACs (message-codec.ts): made here, given to the children by env. */
  private readonly exchangeSecret = randomBytes(32).toString('hex');
  /** Ends the current attempt (the children's run) at once, with the given outcome. */
  private endAttempt: ((outcome: AttemptOutcome) => void) | undefined;
  private startStep: number;
  /** Where the run's time goes: starting the children, training, evaluating, recovering (run()). */
  private clock = new PhaseClock();

  private constructor(
    readonly config: RunConfig,
    private readonly dir: RunDirectory,
    readonly schedule: RunSchedule,
    startStep: number,
    private readonly metadata: Record<string, unknown>,
    private readonly opts: ProcessTrainerOptions,
  ) {
    this.startStep = startStep;
  }

  static async open(
    config: RunConfig,
    opts: OpenRunOptions & { metadata?: Record<string, unknown> } & ProcessTrainerOptions = {},
  ): Promise<ProcessTrainer> {
    const { batcher } = await loadRunData(config);
    const schedule = new RunSchedule(config, batcher.batchesPerEpoch);
    const { dir, checkpoint } = openRunDirectory(config, opts);
    const metadata = { ...opts.metadata, runtime: 'processes' };
    return new ProcessTrainer(config, dir, schedule, checkpoint?.step ?? 0, metadata, opts);
  }

  get runDir(): string {
    return this.dir.path;
  }

  get stepsDone(): number {
    return Math.min(...[...this.reported.values(), this.startStep]);
  }

  get totalSteps(): number {
    return this.schedule.totalSteps;
  }

  /**
   * Every peer stops after a step all of them can still reach (one past the furthest), with a checkpoint.
   * A peer that cannot get there (it waits for a partner that hangs) does not hold the stop up: after
   * `stopGraceMs` every child is killed and the run ends at its last committed checkpoint. A peer that is
   * evaluating is not waiting for anyone (evaluations follow a step all peers took): the grace is held
   * while a peer evaluates and starts again in full when the last evaluation ends, so a stop never throws
   * an evaluation away, nor the step after it (a second Ctrl-C still aborts).
   */
  requestStop(): void {
    if (this.pauseAt !== undefined) return;
    this.pauseAt = Math.max(this.startStep, ...this.reported.values()) + 1;
    for (const child of this.children) if (child.connected) child.send({ type: 'pause', at: this.pauseAt });
    this.restartStopGrace();
  }

  /** A pending stop's grace, in full from now, unless a peer evaluates (the end of its evaluation restarts it). */
  private restartStopGrace(): void {
    clearTimeout(this.stopTimer);
    this.stopTimer = undefined;
    if (this.pauseAt === undefined || this.evaluating.size > 0) return;
    this.stopTimer = setTimeout(() => {
      this.forcedStop = true;
      this.endAttempt?.({ type: 'force-stopped' });
    }, this.opts.stopGraceMs ?? DEFAULT_STOP_GRACE_MS).unref();
  }

  async run(events: RunEvents = {}): Promise<RunSummary> {
    const { config } = this;
    const metrics = this.dir.openMetrics();
    const earlier = this.dir.earlierSessions(this.startStep);
    const clock = (this.clock = new PhaseClock(earlier.timing));
    const history = { ...earlier.history, generations: earlier.history.generations + 1 };
    // Until the children report their first step: they start and load the data.
    clock.enter('waiting', Date.now());
    let final: EvalEvent | undefined;
    let lastDone = this.startStep;
    let error: string | undefined;
    let rolledBackFrom: number | undefined;
    try {
      for (;;) {
        const outcome = await this.runChildren(metrics, events);
        if (outcome.type === 'done') {
          lastDone = outcome.lastDone;
          final = outcome.final;
          break;
        }
        const checkpointStep = findLatestCheckpoint(this.dir.path)?.step ?? 0;
        if (outcome.type === 'force-stopped') {
          lastDone = checkpointStep;
          events.onWarning?.(
            `the peers did not reach a common step within ${((this.opts.stopGraceMs ?? DEFAULT_STOP_GRACE_MS) / 1000).toFixed(0)} s ` +
              `of the stop request (one waits for another): stopped them; the run resumes from its checkpoint at step ${checkpointStep}`,
          );
          break;
        }
        const decision = decideOnDivergence({
          policy: config.train.onDivergence,
          divergence: outcome.divergence,
          previous: rolledBackFrom,
          checkpointStep,
        });
        if (decision.action === 'fail') {
          error = decision.reason;
          lastDone = checkpointStep;
          break;
        }
        events.onRollback?.({ reason: decision.reason, toStep: decision.toStep });
        // Until the restarted children report a step again.
        clock.enter('recovery', Date.now());
        history.rollbacks++;
        history.generations++;
        history.stepsRedone += Math.max(
          0,
          Math.max(this.startStep, ...this.reported.values()) - decision.toStep,
        );
        rolledBackFrom = outcome.divergence.step;
        this.startStep = decision.toStep;
        this.reported.clear();
      }
    } finally {
      clearTimeout(this.stopTimer);
      metrics.close();
      this.disconnectChildren();
      clock.stop(Date.now());
    }
    // Steps after the checkpoint the run ended or rolled back at were reported, or reported twice.
    if (rolledBackFrom !== undefined || error !== undefined || this.forcedStop)
      this.dir.keepMetricsUpTo(lastDone);

    return this.dir.finishSession({
      metadata: this.metadata,
      stepsDone: lastDone,
      totalSteps: this.schedule.totalSteps,
      timing: clock.timing(Date.now()),
      history,
      earlier,
      config,
      final,
      error,
    });
  }

  /**
   * One child process per peer from `startStep` until every peer is done, a peer diverged (the children
   * are killed: the caller fails or rolls back) or a stop was not honoured in time.
   */
  private async runChildren(metrics: MetricsAppender, events: RunEvents): Promise<AttemptOutcome> {
    const { config } = this;
    const n = config.peers;
    const lines = new StepAggregator(this.schedule, n);
    const checkpoints = new Map<number, number>();
    const started = Date.now();
    this.evaluating.clear(); // the children of an earlier attempt are gone
    let final: EvalEvent | undefined;
    let finishedPeers = 0;
    let lastDone = this.startStep;
    let settled = false;

    return new Promise<AttemptOutcome>((resolve, reject) => {
      const settle = (outcome: AttemptOutcome | Error) => {
        if (settled) return;
        settled = true;
        this.endAttempt = undefined;
        if (outcome instanceof Error || outcome.type !== 'done') this.killChildren();
        if (outcome instanceof Error) reject(outcome);
        else resolve(outcome);
      };
      this.endAttempt = settle;
      const onMessage = (m: ChildMessage) => {
        if (settled) return;
        switch (m.type) {
          case 'step': {
            if (this.clock.phase !== 'training') this.clock.enter('training', Date.now());
            this.reported.set(m.peer, m.report.step);
            const line = lines.addStep({ ...m.report, peer: m.peer });
            if (line) {
              metrics.append({ type: 'step', ...line });
              events.onStep?.(line);
            }
            break;
          }
          case 'checkpoint': {
            const count = (checkpoints.get(m.step) ?? 0) + 1;
            checkpoints.set(m.step, count);
            if (count === n) {
              checkpoints.delete(m.step);
              const meta = { step: m.step, seed: config.seed, peers: n, arch: config.model.arch };
              const dir = commitCheckpoint(this.dir.path, meta, { pinned: this.schedule.keptSteps });
              events.onCheckpoint?.({ step: m.step, dir });
            }
            break;
          }
          case 'eval-start':
            this.evaluating.add(m.peer);
            this.restartStopGrace(); // held while it evaluates
            break;
          case 'eval-progress':
            if (this.clock.phase !== 'evaluation') this.clock.enter('evaluation', Date.now());
            events.onEvalProgress?.(m.peer, m.done, m.total);
            break;
          case 'eval': {
            this.evaluating.delete(m.peer);
            if (this.evaluating.size === 0) this.restartStopGrace();
            const line = lines.addEval({ ...m.result, peer: m.peer, step: m.step, final: m.final });
            if (line) {
              metrics.append({ type: 'eval', ...line });
              events.onEval?.(line);
              if (line.final) final = line;
            }
            break;
          }
          case 'done':
            lastDone = m.step;
            if (++finishedPeers === n) settle({ type: 'done', lastDone, final });
            break;
          case 'error':
            if (m.divergence) settle({ type: 'diverged', divergence: m.divergence });
            else settle(new Error(`peer ${m.peer} failed: ${m.message}`));
            break;
        }
      };
      this.children = Array.from({ length: n }, (_, peer) => {
        const child = fork(childMainPath(), [], {
          // The run's exchange secret reaches the children by environment, never by argv (visible in ps).
          env: { ...process.env, [EXCHANGE_SECRET_ENV]: this.exchangeSecret },
          serialization: 'advanced',
          stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        });
        child.on('message', (m) => isChildMessage(m) && onMessage(m));
        child.on('exit', (code, signal) => {
          this.evaluating.delete(peer);
          settle(
            new Error(`peer ${peer}'s process exited (${signal ?? `code ${code}`}) before the run ended`),
          );
        });
        child.on('error', (err) => settle(new Error(`peer ${peer}'s process: ${err.message}`)));
        return child;
      });
      routeExchange(this.children);
      const start = (child: ChildProcess, peer: number) => {
        const message: ParentMessage = {
          type: 'start',
          runId: `${config.name}-${started}`,
          config,
          peer,
          runDir: this.dir.path,
          startStep: this.startStep,
        };
        child.send(message);
        if (this.pauseAt !== undefined) child.send({ type: 'pause', at: this.pauseAt });
      };
      this.children.forEach((child, peer) =>
        child.on('message', (m) => isChildMessage(m) && m.type === 'listening' && start(child, peer)),
      );
    });
  }

  private disconnectChildren(): void {
    for (const child of this.children) if (child.connected) child.disconnect();
  }

  private killChildren(): void {
    for (const child of this.children) if (child.exitCode === null) child.kill('SIGKILL');
  }

  dispose(): void {
    clearTimeout(this.stopTimer);
    this.killChildren();
  }
}

/** How long a stop request may take before the children are killed (ProcessTrainer.requestStop). */
export const DEFAULT_STOP_GRACE_MS = 30000;

export interface ProcessTrainerOptions {
  /** @defaultValue DEFAULT_STOP_GRACE_MS */
  stopGraceMs?: number;
}

/** How one run of the children ended. */
type AttemptOutcome =
  | { type: 'done'; lastDone: number; final: EvalEvent | undefined }
  | { type: 'diverged'; divergence: DivergenceReport }
  | { type: 'force-stopped' };
