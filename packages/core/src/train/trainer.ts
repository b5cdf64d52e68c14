import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, type RunConfig } from '../config/schema';
import { Batcher, loadDataset, subset, type Dataset } from '../data';
import { createModel } from '../models';
import { evalAttackSpec } from './attack-config';
import { findLatestCheckpoint, loadCheckpoint, saveCheckpoint } from './checkpoint';
import { evaluateModel, type EvalResult } from './evaluate';
import { matStep, type PeerStepMetrics } from './mat-step';
import type { Peer } from './peer';
import { learningRateAt } from './schedule';
import { Sgd } from './sgd';
import { dataSeed, initSeed } from './streams';

export interface StepEvent {
  step: number;
  totalSteps: number;
  epoch: number;
  lr: number;
  seconds: number;
  peers: PeerStepMetrics[];
}

export interface EvalEvent {
  step: number;
  epoch: number;
  final: boolean;
  peers: Array<EvalResult & { peer: number }>;
}

export interface RunEvents {
  onStep?(e: StepEvent): void;
  onEval?(e: EvalEvent): void;
  onEvalProgress?(peer: number, done: number, total: number): void;
  onCheckpoint?(e: { step: number; dir: string }): void;
}

export interface RunSummary {
  /** Facts about the run's environment, e.g. `backend`. */
  metadata: Record<string, unknown>;
  runDir: string;
  stepsDone: number;
  totalSteps: number;
  stoppedEarly: boolean;
  seconds: number;
  imagesPerSecond: number;
  final?: EvalEvent;
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
 * the distributed runtime must reproduce exactly.
 */
export class InProcessTrainer {
  private stopRequested = false;
  private step = 0;

  private constructor(
    readonly config: RunConfig,
    readonly runDir: string,
    readonly peers: Peer[],
    private readonly batcher: Batcher,
    private readonly test: Dataset,
    /** Recorded in summary.json, e.g. the backend in use. */
    private readonly metadata: Record<string, unknown>,
  ) {}

  /** Loads the data, builds the peers and, with `resume`, restores the newest checkpoint of the run. */
  static async open(
    config: RunConfig,
    opts: { resume?: boolean; metadata?: Record<string, unknown> } = {},
  ): Promise<InProcessTrainer> {
    if (config.train.maxStaleness > 0) {
      throw new ConfigError(
        `train.maxStaleness is ${config.train.maxStaleness}, but the in-process trainer is synchronous: ` +
          'bounded staleness applies to the process runtimes (mat train --runtime processes, mat worker); ' +
          'use one of those or set train.maxStaleness to 0',
      );
    }
    const runDir = path.join(config.outDir, config.name);
    const { train, test, batcher } = await loadRunData(config);
    const peers = createPeers(config, train);
    const trainer = new InProcessTrainer(config, runDir, peers, batcher, test, opts.metadata ?? {});
    fs.mkdirSync(runDir, { recursive: true });
    const latest = opts.resume ? findLatestCheckpoint(runDir) : undefined;
    if (latest) {
      trainer.step = loadCheckpoint(latest.dir, peers).step;
    } else {
      fs.writeFileSync(path.join(runDir, 'config.json'), JSON.stringify(config, null, 2));
    }
    return trainer;
  }

  get stepsDone(): number {
    return this.step;
  }

  get totalSteps(): number {
    return this.config.train.epochs * this.batcher.batchesPerEpoch;
  }

  /** Ends the run after the current step, with a checkpoint (SIGINT / SIGTERM). */
  requestStop(): void {
    this.stopRequested = true;
  }

  async run(events: RunEvents = {}): Promise<RunSummary> {
    const { config } = this;
    const perEpoch = this.batcher.batchesPerEpoch;
    const lastStep = Math.min(this.totalSteps, config.train.maxSteps ?? Infinity);
    const metricsLog = fs.openSync(path.join(this.runDir, 'metrics.jsonl'), 'a');
    const log = (record: object) => fs.writeSync(metricsLog, JSON.stringify(record) + '\n');
    const started = Date.now();
    const firstStep = this.step;
    let final: EvalEvent | undefined;
    try {
      while (this.step < lastStep && !this.stopRequested) {
        const epoch = Math.floor(this.step / perEpoch);
        const t0 = Date.now();
        const lr = learningRateAt(config.optim.lr, config.optim.schedule, this.step, this.totalSteps);
        const batch = this.batchTensors(epoch, this.step % perEpoch);
        const peers = matStep(this.peers, batch, { config, step: this.step, lr });
        tf.dispose([batch.x, batch.y]);
        this.step++;
        const event: StepEvent = {
          step: this.step,
          totalSteps: lastStep,
          epoch,
          lr,
          seconds: (Date.now() - t0) / 1000,
          peers,
        };
        log({ type: 'step', ...event });
        events.onStep?.(event);
        if (config.train.checkpointEvery > 0 && this.step % config.train.checkpointEvery === 0) {
          this.checkpoint(events);
        }
        const epochEnded = this.step % perEpoch === 0;
        if (epochEnded && config.eval.everyEpoch && this.step < lastStep) {
          const e = this.evaluate(epoch, false, events);
          log({ type: 'eval', ...e });
        }
        // Let signal handlers and I/O run between steps.
        await new Promise((resolve) => setImmediate(resolve));
      }
      if (this.step > firstStep || !findLatestCheckpoint(this.runDir)) this.checkpoint(events);
      final = this.evaluate(Math.floor((this.step - 1) / perEpoch), true, events);
      log({ type: 'eval', ...final });
    } finally {
      fs.closeSync(metricsLog);
    }
    const seconds = (Date.now() - started) / 1000;
    const images = (this.step - firstStep) * config.train.batchSize * config.peers;
    const summary: RunSummary = {
      metadata: this.metadata,
      runDir: this.runDir,
      stepsDone: this.step,
      totalSteps: this.totalSteps,
      stoppedEarly: this.step < this.totalSteps,
      seconds,
      imagesPerSecond: seconds > 0 ? images / seconds : 0,
      final,
    };
    fs.writeFileSync(path.join(this.runDir, 'summary.json'), JSON.stringify(summary, null, 2));
    return summary;
  }

  private batchTensors(epoch: number, index: number): { x: tf.Tensor4D; y: tf.Tensor1D } {
    const b = this.batcher.batch(epoch, index);
    const [h, w, c] = this.test.shape;
    return { x: tf.tensor4d(b.x, [b.size, h, w, c]), y: tf.tensor1d(b.y, 'int32') };
  }

  private checkpoint(events: RunEvents): void {
    const dir = saveCheckpoint(this.runDir, this.peers, { step: this.step, seed: this.config.seed });
    events.onCheckpoint?.({ step: this.step, dir });
  }

  private evaluate(epoch: number, final: boolean, events: RunEvents): EvalEvent {
    const { eval: ev, seed } = this.config;
    const peers = this.peers.map((peer) => ({
      peer: peer.index,
      ...evaluateModel(peer.model, this.test, {
        attack: evalAttackSpec(ev.attack),
        batchSize: ev.batchSize,
        seed,
        onBatch: (done, total) => events.onEvalProgress?.(peer.index, done, total),
      }),
    }));
    const event: EvalEvent = { step: this.step, epoch, final, peers };
    events.onEval?.(event);
    return event;
  }

  dispose(): void {
    for (const peer of this.peers) {
      peer.model.dispose();
      peer.optimizer.dispose();
    }
  }
}
