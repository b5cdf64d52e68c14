/**
 * Forward-pass numerics against PyTorch: the fixture (scripts/reference/make_model_fixture.py) holds logits the
 * reference PyTorch models produced for deterministic weights and inputs; here the same weights are imported
 * through the PyTorch layout mapping and the same inputs run through the MAT models.
 */
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { registerNativeBackend } from '@mat/native';
import {
  applyEntriesToModel,
  createModel,
  fromPyTorchEntries,
  toPyTorchEntries,
  type Model,
  type TensorEntry,
} from '@mat/core';
import {
  loadTorchFixture,
  referenceInput,
  referenceTorchEntries,
  type NumericsCase,
} from './reference-weights';

const fixture = loadTorchFixture();

function stateDictKey(c: NumericsCase): string {
  return c.arch === 'wide-resnet' ? `wide-resnet-${c.options.depth}-${c.options.widen}` : c.arch;
}

function buildReferenceModel(c: NumericsCase, torchEntries: TensorEntry[]): Model {
  const model = createModel(c.arch, {
    seed: 0,
    skipInit: true,
    inputShape: c.inputShape,
    ...c.options,
    ...(c.normalize ? { normalize: c.normalize } : {}),
  });
  applyEntriesToModel(model, fromPyTorchEntries(model, torchEntries), 'reference weights');
  return model;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/**
 * The cpu backend (tfjs's kernels), and the native one where its addon is built (always in CI): its models
 * run the fused batch norm + ReLU kernel and its own convolutions, so they are checked against PyTorch too.
 */
if (!registerNativeBackend() && process.env.CI) throw new Error('@mat/native addon is not built in CI');
const BACKENDS = ['cpu', ...(tf.findBackendFactory('native') ? ['native'] : [])];
const CASES = BACKENDS.flatMap((backend) =>
  fixture.numerics.map((c) => [stateDictKey(c), backend, c] as const),
);

describe.each(CASES)('%s on %s matches PyTorch', (_key, backend, c) => {
  let model: Model;
  let x: tf.Tensor4D;
  let torchEntries: TensorEntry[];

  beforeAll(async () => {
    await tf.setBackend(backend);
    torchEntries = referenceTorchEntries(fixture.stateDicts[stateDictKey(c)], c.weightSeed);
    model = buildReferenceModel(c, torchEntries);
    x = tf.tensor4d(referenceInput(c.inputSeed, c.batch, c.inputShape), [c.batch, ...c.inputShape]);
  });

  afterAll(() => {
    model.dispose();
    x.dispose();
  });

  it('imports the reference weights and exports them back unchanged', () => {
    const exported = new Map(toPyTorchEntries(model).map((e) => [e.name, e]));
    expect(exported.size).toBe(torchEntries.length);
    for (const e of torchEntries) {
      const back = exported.get(e.name);
      expect(back?.shape).toEqual(e.shape);
      expect(Buffer.from((back?.data as Float32Array).buffer).equals(Buffer.from(e.data.buffer))).toBe(true);
    }
  });

  it('gives the same eval-mode logits (abs tol 1e-4)', () => {
    const logits = model.forward(x, { training: false });
    expect(logits.shape).toEqual([c.batch, c.evalLogits.length / c.batch]);
    expect(maxAbsDiff(logits.dataSync(), c.evalLogits)).toBeLessThan(1e-4);
    logits.dispose();
  });

  const train = c.trainLogits;
  const stats = c.runningStatsAfterTrain;
  if (train && stats) {
    it('gives the same train-mode logits and running statistics after one updateStats pass', () => {
      const logits = model.forward(x, { training: true, updateStats: true });
      expect(maxAbsDiff(logits.dataSync(), train)).toBeLessThan(1e-4);
      logits.dispose();
      const buffers = new Map(toPyTorchEntries(model).map((e) => [e.name, e.data]));
      for (const [name, expected] of Object.entries(stats)) {
        expect(maxAbsDiff(buffers.get(name) as Float32Array, expected)).toBeLessThan(1e-5);
      }
    });
  }
});
