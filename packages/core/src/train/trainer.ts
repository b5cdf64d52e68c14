import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, type RunConfig } from '../config/schema';
import { Batcher, loadDataset, subset, type Dataset } from '../data';
import { createModel } from '../models';
import { evalAttackSpec } from './attack-config';
import { openRunDirectory, type OpenRunOptions } from '../run/open-run';
import type { RunDirectory } from '../run/run-directory';
import { type EvalEvent, type RunSummary, type StepEvent } from '../run/run-records';
import { RunSchedule } from '../run/run-schedule';
import { PhaseClock } from '../run/run-summary';
import { StepAggregator } from '../run/step-aggregator';
import { loadCheckpoint, saveCheckpoint, stepDirName } from './checkpoint';
import { evaluateModel } from './evaluate';
import { decideOnDivergence, DivergenceError } from './divergence';
import { matStep } from './mat-step';
import type { Peer } from './peer';
import { Sgd } from './sgd';
import { dataSeed, initSeed } from './streams';

export interface RunEvents {
  onStep?(e: StepEvent): void;
  onEval?(e: EvalEvent): void;
  onEvalProgress?(peer: number, done: number, total: number): void;
  onCheckpoint?(e: { step: number; dir: string }): void;
  /** A peer diverged and the run (train.onDivergence 'rollback') goes back to the checkpoint at `toStep`. */
  onRollback?(e: { reason: string; toStep: number }): void;
  /** Something the user should know that is not an error (e.g. a stop that could not wait for every peer). */
  onWarning?(message: string): void;
}

/** Builds peer `index` freshly initialised; its weights depend only on (seed, index). */
export function createPeer(
  config: RunConfig,
  index: number,
  data: { numClasses: number; shape: [number, number, number] },
): Peer {
  const model = createModel(config.model.arch, {
    seed: initSeed(config.seed, index),
    numClasses: data.numClasses,
    inputShape: data.shape,
    depth: config.model.depth,
    widen: config.model.widen,
  });
  const optimizer = new Sgd(model.params, {
    momentum: config.optim.momentum,
    weightDecay: config.optim.weightDecay,
    nesterov: config.optim.nesterov,
  });
  return { index, model, optimizer };
}

/** Builds all N peers of a run. */
export function createPeers(
  config: RunConfig,
  data: { numClasses: number; shape: [number, number, number] },
): Peer[] {
  return Array.from({ length: config.peers }, (_, index) => createPeer(config, index, data));
}

export function makeBatcher(config: RunConfig, train: Dataset): Batcher {
  const augment =
    config.data.crop > 0 || config.data.flip ? { crop: config.data.crop, flip: config.data.flip } : undefined;
  return new Batcher(train, {
    batchSize: config.train.batchSize,
    seed: dataSeed(config.seed),
    shuffle: true,
    augment,
    dropLast: true,
  });
}

/** The run's training and test sets (subsets applied) and its deterministic batcher. */
export async function loadRunData(
  config: RunConfig,
): Promise<{ train: Dataset; test: Dataset; batcher: Batcher }> {
  const dataOpts = { dataDir: config.data.dataDir };
  let train = await loadDataset(config.data.dataset, 'train', dataOpts);
  let test = await loadDataset(config.data.dataset, 'test', dataOpts);
  if (config.data.trainSubset) train = subset(train, Math.min(config.data.trainSubset, train.count));
  if (config.data.testSubset) test = subset(test, Math.min(config.data.testSubset, test.count));
  const batcher = makeBatcher(config, train);
  if (batcher.batchesPerEpoch < 1) {
    throw new Error(
      `train.batchSize ${config.train.batchSize} is larger than the ${train.count} training images`,
    );
  }
  return { train, test, batcher };
}

/**
 * Trains all N peers in this process, step by synchronous step (./mat-step.ts). This is the reference that
 * the distributed runtime must reproduce exactly. Its run directory, schedule and metrics lines come from
 * ../run, as those of the other runtimes do.
 */
export class InProcessTrainer {
  private stopRequested = false;
  private step = 0;
  /** The step of the newest checkpoint of this run (-1: none yet). */
  private checkpointed = -1;

  private constructor(
    readonly config: RunConfig,
    private readonly dir: RunDirectory,
    readonly schedule: RunSchedule,
    private peerList: Peer[],
    private readonly batcher: Batcher,
    private readonly test: Dataset,
    /** Recorded in summary.json, e.g. the backend in use. */
    private readonly metadata: Record<string, unknown>,
  ) {}

  /**
   * Opens the run directory (a new run, or with `resume` the newest checkpoint of the run; see
   * ../run/open-run.ts), loads the data and builds the peers.
   */
  static async open(
    config: RunConfig,
    opts: OpenRunOptions & { metadata?: Record<string, unknown> } = {},
  ): Promise<InProcessTrainer> {
    if (config.train.maxStaleness > 0) {
      throw new ConfigError(
        `train.maxStaleness is ${config.train.maxStaleness}, but the in-process trainer is synchronous: ` +
          'bounded staleness applies to the process runtimes (mat train --runtime processes, mat worker); ' +
          'use one of those or set train.maxStaleness to 0',
      );
    }
    // Everything that can fail on a bad config fails before the run directory is touched.
    const { train, test, batcher } = await loadRunData(config);
    const schedule = new RunSchedule(config, batcher.batchesPerEpoch);
    const peers = createPeers(config, train);
    const metadata = { ...opts.metadata, runtime: 'in-process' };
    try {
      const { dir, checkpoint } = openRunDirectory(config, opts);
      const trainer = new InProcessTrainer(config, dir, schedule, peers, batcher, test, metadata);
      if (checkpoint) {
        trainer.step = loadCheckpoint(checkpoint.dir, peers).step;
        trainer.checkpointed = trainer.step;
      }
      return trainer;
    } catch (err) {
      for (const peer of peers) {
        peer.model.dispose();
        peer.optimizer.dispose();
      }
      throw err;
    }
  }

  get runDir(): string {
    return this.dir.path;
  }

  /** The peers as trained (a rollback to the initial state replaces them). */
  get peers(): Peer[] {
    return this.peerList;
  }

  get stepsDone(): number {
    return this.step;
  }

  get totalSteps(): number {
    return this.schedule.totalSteps;
  }

  /** Ends the run after the current step, with a checkpoint (SIGINT / SIGTERM). */
  requestStop(): void {
    this.stopRequested = true;
  }

  async run(events: RunEvents = {}): Promise<RunSummary> {
    const { config, schedule } = this;
    const metrics = this.dir.openMetrics();
    const lines = new StepAggregator(schedule, config.peers);
    const earlier = this.dir.earlierSessions(this.step);
    const clock = new PhaseClock(earlier.timing);
    const history = { ...earlier.history, generations: earlier.history.generations + 1 };
    clock.enter('training', Date.now());
    let final: EvalEvent | undefined;
    let error: string | undefined;
    /** The step of the divergence that caused the last rollback (decideOnDivergence). */
    let rolledBackFrom: number | undefined;
    try {
      while (this.step < schedule.lastStep && !this.stopRequested) {
        const t0 = Date.now();
        const index = this.step;
        const lr = schedule.learningRate(index);
        const batch = this.batchTensors(index);
        let peers;
        try {
          peers = matStep(this.peerList, batch, { config, step: index, lr });
        } catch (err) {
          if (!(err instanceof DivergenceError)) throw err;
          const decision = decideOnDivergence({
            policy: config.train.onDivergence,
            divergence: { peer: err.peer, step: err.step, reason: err.message },
            previous: rolledBackFrom,
            checkpointStep: Math.max(this.checkpointed, 0),
          });
          if (decision.action === 'fail') {
            error = decision.reason;
            break;
          }
          events.onRollback?.({ reason: decision.reason, toStep: decision.toStep });
          rolledBackFrom = err.step;
          clock.enter('recovery', Date.now());
          const from = this.step;
          this.rollBack();
          history.rollbacks++;
          history.generations++;
          history.stepsRedone += from - this.step;
          clock.enter('training', Date.now());
          continue;
        } finally {
          tf.dispose([batch.x, batch.y]);
        }
        this.step++;
        const seconds = (Date.now() - t0) / 1000;
        let line: StepEvent | undefined;
        for (const p of peers) line = lines.addStep({ ...p, step: this.step, lr, stepSeconds: seconds });
        metrics.append({ type: 'step', ...line! });
        events.onStep?.(line!);
        if (schedule.checkpointDue(this.step)) this.checkpoint(events);
        if (schedule.epochEvalDue(this.step))
          metrics.append({ type: 'eval', ...this.evaluate(lines, false, events, clock) });
        // Let signal handlers and I/O run between steps.
        await new Promise((resolve) => setImmediate(resolve));
      }
      if (error === undefined) {
        // A stopped run ends with a checkpoint where it stopped.
        if (this.checkpointed !== this.step) this.checkpoint(events);
        final = this.evaluate(lines, true, events, clock);
        metrics.append({ type: 'eval', ...final });
      }
    } finally {
      metrics.close();
      clock.stop(Date.now());
    }
    // Steps re-taken after a rollback were appended again: one line per step, the last one kept.
    if (rolledBackFrom !== undefined) this.dir.keepMetricsUpTo(this.step);
    return this.dir.finishSession({
      metadata: this.metadata,
      stepsDone: this.step,
      totalSteps: schedule.totalSteps,
      timing: clock.timing(Date.now()),
      history,
      earlier,
      config,
      final,
      error,
    });
  }

  /** Every peer back to the last committed checkpoint of this run, or to the initial state without one. */
  private rollBack(): void {
    if (this.checkpointed > 0) {
      const dir = path.join(this.dir.path, 'checkpoints', stepDirName(this.checkpointed));
      this.step = loadCheckpoint(dir, this.peerList).step;
      return;
    }
    this.disposePeers();
    this.peerList = createPeers(this.config, this.test);
    this.step = 0;
  }

  /** The clean batch of the step with 0-based index `index` (the same for every peer). */
  private batchTensors(index: number): { x: tf.Tensor4D; y: tf.Tensor1D } {
    const at = this.schedule.batchOf(index);
    const b = this.batcher.batch(at.epoch, at.index);
    const [h, w, c] = this.test.shape;
    return { x: tf.tensor4d(b.x, [b.size, h, w, c]), y: tf.tensor1d(b.y, 'int32') };
  }

  private checkpoint(events: RunEvents): void {
    const dir = saveCheckpoint(
      this.dir.path,
      this.peerList,
      { step: this.step, seed: this.config.seed },
      { pinned: this.schedule.keptSteps },
    );
    this.checkpointed = this.step;
    events.onCheckpoint?.({ step: this.step, dir });
  }

  private evaluate(lines: StepAggregator, final: boolean, events: RunEvents, clock: PhaseClock): EvalEvent {
    const { eval: ev, seed } = this.config;
    clock.enter('evaluation', Date.now());
    let event: EvalEvent | undefined;
    for (const peer of this.peerList) {
      const result = evaluateModel(peer.model, this.test, {
        attack: evalAttackSpec(ev.attack),
        batchSize: ev.batchSize,
        seed,
        onBatch: (done, total) => events.onEvalProgress?.(peer.index, done, total),
      });
      event = lines.addEval({ peer: peer.index, step: this.step, final, ...result });
    }
    clock.enter('training', Date.now());
    events.onEval?.(event!);
    return event!;
  }

  dispose(): void {
    this.disposePeers();
  }

  private disposePeers(): void {
    for (const peer of this.peerList) {
      peer.model.dispose();
      peer.optimizer.dispose();
    }
  }
}
