import * as tf from '@tensorflow/tfjs-core';
import { parseRunConfig, Sgd, type Peer, type RunConfig } from '@mat/core';
import { messageShapes, type ExchangeRules, type PeerExchange } from '@mat/exchange';
import { StalePeer } from '@mat/worker';
import { randomBatch, TinyMlp } from '../core/helpers/tiny-models';

const SHAPE: [number, number, number] = [4, 4, 1];
const CLASSES = 3;
const BATCH = 5;

export function staleConfig(peers: number, maxStaleness: number): RunConfig {
  return parseRunConfig({
    seed: 5,
    peers,
    optim: { lr: 0.1, momentum: 0.9, weightDecay: 5e-4 },
    attack: { norm: 'linf', eps: 0.2, stepSize: 0.1, steps: 2 },
    train: { maxStaleness },
  });
}

export function staleRules(runId: string, peers: number): ExchangeRules {
  return {
    runId,
    peerCount: peers,
    shapes: messageShapes({ peerCount: peers, batchSize: BATCH, imageShape: SHAPE, numClasses: CLASSES }),
  };
}

export interface StaleRunResult {
  /** staleness[p][t]: what peer p recorded at step t. */
  staleness: number[][];
  /** Steps each peer finished. */
  finished: number[];
  /** "peer p finished step t while peer j had only started step u" with t − u > s. */
  aheadViolations: string[];
  /** The largest lead (steps finished minus steps finished) of a fast peer over the slow one. */
  maxLead: number;
  /** tf.memory().numTensors minus the tensors the stale steps hold, after every step of every peer. */
  tensorCounts: number[];
  baseline: number;
}

/**
 * N peers, each running its own loop of bounded-staleness steps concurrently over `exchanges`. Peer
 * `slow` is held back by the others' progress, not by a clock: it starts step t >= 1 only once every other
 * peer has finished step t + s − 1, which they can reach only with outputs exactly s steps old. A peer whose
 * steps are over keeps answering (serve) until all are done, as the runtimes do.
 */
export async function runStale(opts: {
  config: RunConfig;
  steps: number;
  slow: number;
  exchanges: PeerExchange[];
}): Promise<StaleRunResult> {
  const { config, steps, slow } = opts;
  const n = config.peers;
  const s = config.train.maxStaleness;
  const peers: Peer[] = Array.from({ length: n }, (_, index) => {
    const model = new TinyMlp(SHAPE, CLASSES, 8, 100 + index);
    return { index, model, optimizer: new Sgd(model.params, { ...config.optim }) };
  });
  const stale = peers.map((p) => new StalePeer(p, config));
  const batches = Array.from({ length: steps }, (_, t) => randomBatch([BATCH, ...SHAPE], CLASSES, 40 + t));
  const started = Array<number>(n).fill(-1);
  const finished = Array<number>(n).fill(0);
  const staleness = peers.map(() => [] as number[]);
  const aheadViolations: string[] = [];
  const tensorCounts: number[] = [];
  let maxLead = 0;
  const baseline = tf.memory().numTensors;

  // Watch every x_i'(t) publication: "peer i has started step t".
  const watched: PeerExchange[] = opts.exchanges.map((ex, p) => ({
    peer: ex.peer,
    publish: async (kind, step, tensor, to) => {
      if (kind === 'adv') started[p] = Math.max(started[p], step);
      await ex.publish(kind, step, tensor, to);
    },
    receive: (...a) => ex.receive(...a),
    collect: (...a) => ex.collect(...a),
    setGeneration: (g) => ex.setGeneration(g),
    close: () => ex.close(),
  }));

  const allDone = () => finished.every((f) => f === steps);
  const loop = async (p: number) => {
    for (let t = 0; t < steps; t++) {
      // (Step 0 has no gate: before any step of the slow peer, the others can take none either.) Held
      // back, it still answers, as a peer busy between steps does at its next step.
      const gate = () => finished.every((f, j) => j === slow || f >= Math.min(t + s, steps));
      if (p === slow && t > 0) while (!gate()) await stale[p].serve(watched[p], { timeoutMs: 20 });
      const m = await stale[p].step(watched[p], batches[t], { config, step: t, lr: 0.05 });
      staleness[p].push(m.staleness);
      finished[p] = t + 1;
      started.forEach((u, j) => {
        if (t - u > s) aheadViolations.push(`peer ${p} finished step ${t} while peer ${j} had started ${u}`);
      });
      if (p !== slow) maxLead = Math.max(maxLead, finished[p] - finished[slow]);
      tensorCounts.push(tf.memory().numTensors - stale.reduce((a, x) => a + x.heldTensors, 0));
    }
    while (!allDone()) await stale[p].serve(watched[p], { timeoutMs: 20 });
  };
  await Promise.all(peers.map((_, p) => loop(p)));

  stale.forEach((x) => x.dispose());
  tf.dispose(batches.flatMap((b) => [b.x, b.y]));
  for (const p of peers) {
    p.model.dispose();
    p.optimizer.dispose();
  }
  return { staleness, finished, aheadViolations, maxLead, tensorCounts, baseline };
}

/** What every bounded-staleness run must show, whichever exchange carried it. */
export function expectBoundedStaleness(
  r: StaleRunResult,
  opts: { s: number; steps: number; slow: number },
): void {
  const { s, steps, slow } = opts;
  expect(r.finished).toEqual(r.finished.map(() => steps));
  expect(r.aheadViolations).toEqual([]);
  const all = r.staleness.flat();
  expect(all.every((x) => Number.isInteger(x) && x >= 0 && x <= s)).toBe(true);
  // The others were held back by the slow peer only at the bound: they did use outputs s steps old, and
  // got s steps ahead of it.
  const fastMax = Math.max(...r.staleness.filter((_, p) => p !== slow).flat());
  expect(fastMax).toBe(s);
  expect(r.maxLead).toBeGreaterThanOrEqual(s);
  expect(r.maxLead).toBeLessThanOrEqual(s + 1);
  // Memory: apart from the own adversarial batches kept for the staleness window, nothing accumulates.
  expect(new Set(r.tensorCounts)).toEqual(new Set([r.baseline]));
}
