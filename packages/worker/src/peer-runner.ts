import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import {
  adversarialRowsPerSample,
  createPeer,
  encodePeerState,
  evalAttackSpec,
  evaluateModel,
  loadPeerCheckpoint,
  loadRunData,
  restorePeerState,
  RunSchedule,
  stepDirName,
  writePeerCheckpoint,
  type Batcher,
  type Dataset,
  type EvalResult,
  type Peer,
  type RunConfig,
} from '@mat/core';
import { messageShapes, type ExchangeRules, type PeerExchange } from '@mat/exchange';
import { peerStep, type DistributedStepMetrics } from './peer-step';
import { StalePeer } from './stale-peer-step';

/**
 * One peer of a run with everything it needs to train alone: its model and optimizer, the run's data
 * (every peer draws the same clean batch from the deterministic batcher) and the schedule. Both runtimes
 * (embedded child processes, Redis workers) drive it with trainLoop (./train-loop.ts).
 */
export class PeerRunner {
  /** With train.maxStaleness > 0: the bounded-staleness step and what it keeps between steps. */
  private readonly stale: StalePeer | undefined;
  /** When the run checkpoints, evaluates and ends: the same schedule as every other runtime's. */
  readonly schedule: RunSchedule;

  private constructor(
    readonly config: RunConfig,
    readonly peer: Peer,
    readonly runDir: string,
    private readonly batcher: Batcher,
    readonly test: Dataset,
    /** The freshly initialised state: step 0 needs no checkpoint. */
    private readonly initialState: Uint8Array,
  ) {
    this.stale = config.train.maxStaleness > 0 ? new StalePeer(peer, config) : undefined;
    this.schedule = new RunSchedule(config, batcher.batchesPerEpoch);
  }

  static async open(config: RunConfig, index: number, runDir: string): Promise<PeerRunner> {
    if (!Number.isInteger(index) || index < 0 || index >= config.peers) {
      throw new Error(`peer index ${index} is outside 0..${config.peers - 1}`);
    }
    const { train, test, batcher } = await loadRunData(config);
    const peer = createPeer(config, index, train);
    const initial = encodePeerState(peer, { step: 0, seed: config.seed });
    return new PeerRunner(config, peer, runDir, batcher, test, initial);
  }

  get index(): number {
    return this.peer.index;
  }

  /** The step the run ends at (maxSteps may cut it short; the schedule still spans totalSteps). */
  get lastStep(): number {
    return this.schedule.lastStep;
  }

  /**
   * What this run's messages look like (shapes, size bound) for the exchange, and the key of their MAC
   * (MAT_EXCHANGE_SECRET of the worker's environment: every peer of the run must have the same).
   */
  exchangeRules(runId: string, secret: string | undefined): ExchangeRules {
    return {
      runId,
      ...(secret !== undefined && { secret }),
      peerCount: this.config.peers,
      shapes: messageShapes({
        peerCount: this.config.peers,
        batchSize: this.config.train.batchSize,
        imageShape: this.test.shape,
        numClasses: this.test.numClasses,
        rowsPerSample: adversarialRowsPerSample(this.config),
      }),
    };
  }

  /** Puts the peer in its state after `step` steps: the committed checkpoint there, or the initial state. */
  restore(step: number): void {
    this.stale?.reset();
    if (step === 0) {
      restorePeerState(this.peer, this.initialState, 'initial state');
      return;
    }
    const dir = path.join(this.runDir, 'checkpoints', stepDirName(step));
    if (!fs.existsSync(path.join(dir, 'manifest.json'))) {
      throw new Error(`${dir}: no committed checkpoint to resume peer ${this.index} from`);
    }
    loadPeerCheckpoint(dir, this.peer);
  }

  /** Takes step `step` (0-based) with the peers: attack, exchange, teacher labels, loss, update. */
  async step(
    step: number,
    exchange: PeerExchange,
    signal?: AbortSignal,
  ): Promise<DistributedStepMetrics & { lr: number }> {
    const lr = this.schedule.learningRate(step);
    const at = this.schedule.batchOf(step);
    const b = this.batcher.batch(at.epoch, at.index);
    const [h, w, c] = this.test.shape;
    const batch = { x: tf.tensor4d(b.x, [b.size, h, w, c]), y: tf.tensor1d(b.y, 'int32') };
    const ctx = { config: this.config, step, lr, signal };
    try {
      const metrics = this.stale
        ? await this.stale.step(exchange, batch, ctx)
        : await peerStep(this.peer, exchange, batch, ctx);
      return { ...metrics, lr };
    } finally {
      tf.dispose([batch.x, batch.y]);
    }
  }

  /** Whether a peer whose steps are over must keep answering (serve) until the others are done. */
  get servesAfterSteps(): boolean {
    return this.stale !== undefined;
  }

  /**
   * Bounded staleness: answers slower peers for up to `timeoutMs` — they may still need this peer's labels
   * after its own last step (stale-peer-step.ts). Returns at once in synchronous mode.
   */
  async serve(exchange: PeerExchange, opts: { timeoutMs: number; signal?: AbortSignal }): Promise<void> {
    await this.stale?.serve(exchange, opts);
  }

  /** Writes this peer's file of the checkpoint after `done` steps (committed by whoever sees all files). */
  saveCheckpoint(done: number): string {
    return writePeerCheckpoint(this.runDir, this.peer, { step: done, seed: this.config.seed });
  }

  /** Clean and adversarial test accuracy of this peer, as the in-process trainer computes it. */
  evaluate(onBatch?: (done: number, total: number) => void): EvalResult {
    return evaluateModel(this.peer.model, this.test, {
      attack: evalAttackSpec(this.config.eval.attack),
      batchSize: this.config.eval.batchSize,
      seed: this.config.seed,
      onBatch,
    });
  }

  dispose(): void {
    this.stale?.dispose();
    this.peer.model.dispose();
    this.peer.optimizer.dispose();
  }
}
