import type { RunConfigInput } from './schema';

/**
 * Presets override only what differs from the schema defaults.
 * - `quick`: 2-peer MAT on Fashion-MNIST (10k images, 3 epochs, PGD-5), a few minutes on a 2-core CPU; the
 *   distillation ramps up over the first epoch (see `method.distillWarmupSteps`).
 * - `fmnist`: a full Fashion-MNIST run (all 60k training images).
 * - `cifar10-paper` / `cifar100-paper`: the usual CIFAR adversarial-training recipe
 *   (PreActResNet-18, l_inf eps 8/255, PGD-10 with step 2/255, SGD 0.1 momentum 0.9, wd 5e-4,
 *   lr ÷10 at 50 % and 75 % of training, pad-4 crop + flip, PGD-20 evaluation).
 * - `quick-mp`: `quick` with MAT-MP: 3 peers, one per perturbation type (l∞ 0.1, l2 1.5, l1 10, PGD-5 each);
 *   `--set mp.strategy=max` (or average, random) trains every peer on all three.
 */
/** The usual CIFAR adversarial-training recipe; CIFAR-10 and CIFAR-100 differ only in the data. */
function cifarPaper(dataset: 'cifar10' | 'cifar100'): RunConfigInput {
  return {
    name: `${dataset}-paper`,
    data: { dataset, crop: 4, flip: true },
    model: { arch: 'preact-resnet18' },
    peers: 2,
    attack: { norm: 'linf', eps: 8 / 255, stepSize: 2 / 255, steps: 10 },
    optim: {
      lr: 0.1,
      momentum: 0.9,
      weightDecay: 5e-4,
      schedule: { type: 'piecewise', milestones: [0.5, 0.75] },
    },
    train: { epochs: 120, batchSize: 128, checkpointEvery: 1000 },
    eval: { everyEpoch: false, attack: { norm: 'linf', eps: 8 / 255, stepSize: 2 / 255, steps: 20 } },
  };
}

export const PRESETS: Record<string, RunConfigInput> = {
  quick: {
    name: 'quick',
    data: { dataset: 'fashion-mnist', trainSubset: 10000, testSubset: 1000 },
    model: { arch: 'fmnist-cnn' },
    peers: 2,
    method: { distillWarmupSteps: 78 },
    attack: { norm: 'linf', eps: 0.1, stepSize: 0.025, steps: 5 },
    optim: { lr: 0.1, schedule: { type: 'cosine' } },
    train: { epochs: 3, batchSize: 128 },
    eval: { everyEpoch: true, batchSize: 250, attack: { norm: 'linf', eps: 0.1, stepSize: 0.01, steps: 20 } },
  },
  'quick-mp': {
    name: 'quick-mp',
    data: { dataset: 'fashion-mnist', trainSubset: 10000, testSubset: 1000 },
    model: { arch: 'fmnist-cnn' },
    peers: 3,
    method: { distillWarmupSteps: 78 },
    attack: { norm: 'linf', eps: 0.1, stepSize: 0.025, steps: 5 },
    mp: {
      strategy: 'fixed',
      attacks: [
        { norm: 'linf', eps: 0.1, stepSize: 0.025, steps: 5 },
        { norm: 'l2', eps: 1.5, steps: 5 },
        { norm: 'l1', eps: 10, steps: 5 },
      ],
    },
    optim: { lr: 0.1, schedule: { type: 'cosine' } },
    train: { epochs: 3, batchSize: 128 },
    eval: { everyEpoch: true, batchSize: 250, attack: { norm: 'linf', eps: 0.1, stepSize: 0.01, steps: 20 } },
  },
  fmnist: {
    name: 'fmnist',
    data: { dataset: 'fashion-mnist' },
    model: { arch: 'fmnist-cnn' },
    peers: 2,
    method: { distillWarmupSteps: 468 },
    attack: { norm: 'linf', eps: 0.1, stepSize: 0.025, steps: 10 },
    optim: { lr: 0.1, schedule: { type: 'piecewise', milestones: [0.5, 0.75], gamma: 0.1 } },
    train: { epochs: 10, batchSize: 128, checkpointEvery: 500 },
    eval: { attack: { norm: 'linf', eps: 0.1, stepSize: 0.01, steps: 20 } },
  },
  'cifar10-paper': cifarPaper('cifar10'),
  'cifar100-paper': cifarPaper('cifar100'),
};

export const PRESET_NAMES = Object.keys(PRESETS);
