/**
 * Regression test for the collapse of MAT to the constant predictor (docs/models.md#initialisation): 2-peer MAT
 * with the paper's loss (λ_own = λ_peer = 1, τ = 1, no distillation ramp) on the standard Fashion-MNIST recipe
 * (fmnist-cnn, l_inf 0.1, PGD-7 step 0.025, SGD 0.05 momentum 0.9 weight decay 5e-4, batch 128) must leave the
 * constant predictor — cross-entropy ln 10 ≈ 2.303 — early in its first epoch.
 *
 * Both inits dip below ln 10 over the first ~25 steps and fall back near it after a spike of the distillation
 * loss (PyTorch does the same). With fmnist-cnn's former init (Kaiming-normal fan_out convolutions, zero
 * biases) both peers then stayed at ln 10 with a zero distillation loss — they predict the uniform
 * distribution and agree — for about a hundred steps with this seed; with PyTorch's default init they leave it
 * again within steps 40–100. The test asks for a 10-step window after step 40 in which both peers' mean
 * cross-entropy on their adversarial examples is below LEFT_BELOW.
 *
 * Measured with this seed and data (the first 30000 training images; scripts in the commit message): the best
 * window is 2.005 with the current init, and 2.302 with the former one, whose peers sat at the constant
 * predictor on 81 of these 100 steps (and stayed there until step ~140).
 *
 * It trains for real (100 MAT steps of 2 peers, each with PGD-7) on the native backend: about 2 minutes on an
 * idle 2-core machine, several on a loaded one.
 */
import * as tf from '@tensorflow/tfjs-core';
import { createPeers, loadRunData, matStep, parseRunConfig, selectBackend, type Peer } from '@mat/core';
import { registerNativeBackend } from '@mat/native';

const STEPS = 100;
const WINDOW = 10;
const AFTER_STEP = 40;
const LEFT_BELOW = 2.1; // ln 10 ≈ 2.303
const SEED = 1;

if (!registerNativeBackend()) throw new Error('@mat/native addon is not built (npm ci builds it)');

describe('2-peer MAT with the paper loss on the standard Fashion-MNIST recipe', () => {
  it(
    `leaves the constant predictor (a ${WINDOW}-step window after step ${AFTER_STEP} with both peers' CE < ${LEFT_BELOW})`,
    async () => {
      await selectBackend('native');
      const config = parseRunConfig({
        seed: SEED,
        peers: 2,
        data: { dataset: 'fashion-mnist', trainSubset: 30000 },
        model: { arch: 'fmnist-cnn' },
        method: { base: 'madry', lambdaOwn: 1, lambdaPeer: 1, tau: 1, distillWarmupSteps: 0 },
        attack: { norm: 'linf', eps: 0.1, stepSize: 0.025, steps: 7 },
        optim: { lr: 0.05, momentum: 0.9, weightDecay: 5e-4, schedule: { type: 'constant' } },
        train: { epochs: 1, batchSize: 128 },
      });
      const { train, batcher } = await loadRunData(config);
      expect(batcher.batchesPerEpoch).toBe(234); // the test stays within the first epoch
      const peers: Peer[] = createPeers(config, train);
      const [h, w, c] = train.shape;
      const losses: number[][] = []; // losses[step][peer]: CE of the peer on its own adversarial examples
      for (let step = 0; step < STEPS; step++) {
        const b = batcher.batch(0, step);
        const x = tf.tensor4d(b.x, [b.size, h, w, c]);
        const y = tf.tensor1d(b.y, 'int32');
        const metrics = matStep(peers, { x, y }, { config, step, lr: config.optim.lr });
        tf.dispose([x, y]);
        losses.push(metrics.map((m) => m.base));
      }
      for (const peer of peers) {
        peer.model.dispose();
        peer.optimizer.dispose();
      }
      expect(losses.flat().every(Number.isFinite)).toBe(true);
      // The best window: the lowest, over windows, of the higher of the two peers' mean losses.
      let best = Infinity;
      for (let start = AFTER_STEP; start + WINDOW <= STEPS; start++) {
        const window = losses.slice(start, start + WINDOW);
        const worstPeer = Math.max(...[0, 1].map((p) => window.reduce((s, l) => s + l[p], 0) / WINDOW));
        best = Math.min(best, worstPeer);
      }
      expect(best).toBeLessThan(LEFT_BELOW);
    },
    60 * 60 * 1000,
  );
});
