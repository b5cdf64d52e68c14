/**
 * For every registered architecture: the cross-entropy's gradients w.r.t. all parameters and w.r.t. the
 * input, computed on wasm and on native (when its addon is built: always in CI), equal cpu's (relative error ≤ 1e-4 per tensor), with batch norm in training mode
 * (batch statistics, the mode used for the training loss) and in eval mode (running statistics, the mode
 * attacks differentiate through). Small configurations: 32×32 inputs (28×28 for fmnist-cnn), WRN-10-1, batch 2
 * (batch 1 for the two 11M-parameter ResNet-18s, which halves their cost on the slow cpu backend; their batch
 * norms still see ≥ 16 values per channel).
 *
 * ReLU kinks: with ~10⁶ ReLU inputs per pass, about one of them lands within float32 rounding of 0, and the
 * two backends may then put it on different sides (seen: 1 of 32,768 in preact-resnet18, eval mode). That
 * legitimately changes every gradient upstream of it by ~1e-2, which says nothing about the kernels. So for
 * each case the test first looks for an input (seeds 1, 2, …) whose ReLU sign patterns agree on both
 * backends, and compares gradients there.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  createModel,
  MODEL_ARCHS,
  Rng,
  selectBackend,
  type BackendName,
  type ForwardMode,
  type ModelOptions,
} from '@mat/core';
import { registerNativeBackend } from '@mat/native';
import {
  countReluSignFlips,
  expectBackendsMatch,
  randomInts,
  randomTensor,
  recordReluSigns,
  type Probe,
} from './gradient-parity';

if (!registerNativeBackend() && process.env.CI) throw new Error('@mat/native addon is not built in CI');
/** The reference first. Native overrides the Relu and FusedBatchNorm gradients, so it is checked here too. */
const BACKENDS: BackendName[] = [
  'cpu',
  'wasm',
  ...(tf.findBackendFactory('native') ? ['native' as const] : []),
];
const BATCH: Record<string, number> = { 'preact-resnet18': 1, resnet18: 1 };
const DEFAULT_BATCH = 2;
const MODEL_SEED = 11;
const INPUT_SEEDS_TO_TRY = 10;
const SMALL_OPTIONS: Record<string, Partial<ModelOptions>> = { 'wide-resnet': { depth: 10, widen: 1 } };
const MODES: [string, ForwardMode][] = [
  ['train-mode BN', { training: true, updateStats: false }],
  ['eval-mode BN', { training: false }],
];

/** Mean cross-entropy of logits against integer labels: −mean_b log softmax(z_b)[y_b]. */
function crossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  const logProbs = tf.logSoftmax(logits);
  return tf.neg(tf.mean(tf.sum(tf.mul(logProbs, tf.oneHot(labels, logits.shape[1])), 1))) as tf.Scalar;
}

/** Model (seeded weights), a batch of inputs in [0, 1] and labels, all created on the current backend. */
function setUp(arch: string, inputSeed: number) {
  const model = createModel(arch, { seed: MODEL_SEED, ...SMALL_OPTIONS[arch] });
  const rng = new Rng(inputSeed);
  const [h, w, c] = model.inputShape;
  const batch = BATCH[arch] ?? DEFAULT_BATCH;
  const x = randomTensor(rng, [batch, h, w, c], 0, 1) as tf.Tensor4D;
  const labels = randomInts(rng, [batch], model.numClasses) as tf.Tensor1D;
  const dispose = () => {
    tf.dispose([x, labels]);
    model.dispose();
  };
  return { model, x, labels, dispose };
}

function modelGradientProbe(arch: string, mode: ForwardMode, inputSeed: number): Probe {
  return () => {
    const { model, x, labels, dispose } = setUp(arch, inputSeed);
    // One backward pass for the input and every parameter: the variables are tensors the loss reads.
    const { value, grads } = tf.valueAndGrads((input: tf.Tensor) =>
      crossEntropy(model.forward(input as tf.Tensor4D, mode), labels),
    )([x, ...model.params.map((p) => p.variable)]);
    const outputs: Record<string, tf.Tensor> = { loss: value, 'd loss / d input': grads[0] };
    model.params.forEach(({ name }, i) => (outputs[`d loss / d ${name}`] = grads[i + 1]));
    dispose();
    return outputs;
  };
}

async function reluSigns(backend: BackendName, arch: string, mode: ForwardMode, inputSeed: number) {
  await selectBackend(backend);
  const { model, x, dispose } = setUp(arch, inputSeed);
  const { signs } = recordReluSigns(backend, () => tf.dispose(model.forward(x, mode)));
  dispose();
  return signs;
}

/** The first input seed at which no ReLU input changes sign between cpu and the other backends. */
async function kinkFreeInputSeed(arch: string, mode: ForwardMode): Promise<number> {
  const flipsBySeed: string[] = [];
  for (let seed = 1; seed <= INPUT_SEEDS_TO_TRY; seed++) {
    const reference = await reluSigns('cpu', arch, mode, seed);
    let flips = 0;
    for (const backend of BACKENDS.slice(1))
      flips += countReluSignFlips(reference, await reluSigns(backend, arch, mode, seed));
    if (flips === 0) return seed;
    flipsBySeed.push(`seed ${seed}: ${flips}`);
  }
  throw new Error(
    `${arch}: every input tried has ReLU inputs of different signs on cpu and ${BACKENDS.slice(1)} (${flipsBySeed})`,
  );
}

describe(`model gradients: ${BACKENDS.slice(1).join(' and ')} vs cpu`, () => {
  const cases = MODEL_ARCHS.flatMap((arch) => MODES.map(([label, mode]) => [arch, label, mode] as const));
  it.each(cases)('%s, %s', async (arch, _label, mode) => {
    const inputSeed = await kinkFreeInputSeed(arch, mode);
    await expectBackendsMatch(modelGradientProbe(arch, mode, inputSeed), { backends: BACKENDS, tol: 1e-4 });
  });
});
