import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import {
  MODEL_ARCHS,
  countParams,
  createModel,
  describeModel,
  type Model,
  type ModelOptions,
} from '@mat/core';
import { loadTorchFixture } from './reference-weights';

beforeAll(() => tf.setBackend('cpu'));

/**
 * Small instances of every architecture. The two ResNet-18s have fixed widths (11M weights); they use skipInit
 * because generating 11M seeded normals is slow under jest's sandbox — initialisation itself is tested on the
 * small models.
 */
const SMALL: Record<string, ModelOptions> = {
  'fmnist-cnn': { seed: 1 },
  'preact-resnet18': { seed: 1, inputShape: [8, 8, 3], numClasses: 7, skipInit: true },
  resnet18: { seed: 1, inputShape: [8, 8, 3], numClasses: 7, skipInit: true },
  'wide-resnet': { seed: 1, inputShape: [8, 8, 3], numClasses: 7, depth: 10, widen: 1 },
};

function snapshot(model: Model): Map<string, Float32Array> {
  return new Map(
    [...model.params, ...model.buffers].map((p) => [p.name, p.variable.dataSync() as Float32Array]),
  );
}

describe('model registry', () => {
  it('lists exactly the four architectures and rejects unknown ones by listing the known', () => {
    expect(MODEL_ARCHS).toEqual(['fmnist-cnn', 'preact-resnet18', 'resnet18', 'wide-resnet']);
    expect(Object.keys(SMALL).sort()).toEqual([...MODEL_ARCHS].sort());
    expect(() => createModel('vgg16', { seed: 0 })).toThrow(
      "unknown model architecture 'vgg16'; known: fmnist-cnn, preact-resnet18, resnet18, wide-resnet",
    );
  });

  it.each([
    [{ seed: 1.5 }, 'fmnist-cnn', /seed must be an integer/],
    [{ seed: 0, numClasses: 0 }, 'fmnist-cnn', /numClasses must be a positive integer/],
    [
      { seed: 0, inputShape: [28, 28] as unknown as [number, number, number] },
      'fmnist-cnn',
      /inputShape must be/,
    ],
    [{ seed: 0, inputShape: [2, 2, 1] as [number, number, number] }, 'fmnist-cnn', /too small/],
    [{ seed: 0, depth: 34 }, 'resnet18', /option 'depth' is not supported/],
    [{ seed: 0, depth: 12 }, 'wide-resnet', /depth must be 6n\+4/],
    [{ seed: 0, widen: 0 }, 'wide-resnet', /widen must be an integer >= 1/],
    [{ seed: 0, normalize: { mean: [0.5], std: [0.5] } }, 'wide-resnet', /3 values/],
  ])('rejects bad options %j for %s', (options, arch, message) => {
    expect(() => createModel(arch, options as ModelOptions)).toThrow(message);
  });

  describe.each(MODEL_ARCHS.map((a) => [a]))('%s', (arch) => {
    const options = SMALL[arch];
    let model: Model;
    beforeAll(() => {
      model = createModel(arch, options);
    });
    afterAll(() => model.dispose());

    it('returns logits [batch, numClasses] in every mode without leaking tensors', () => {
      const [h, w, c] = model.inputShape;
      const x = tf.tensor4d(
        Float32Array.from({ length: 2 * h * w * c }, (_, i) => (i % 17) / 16),
        [2, h, w, c],
      );
      const before = tf.memory().numTensors;
      for (const mode of [{ training: false }, { training: true }, { training: true, updateStats: true }]) {
        const y = model.forward(x, mode);
        expect(y.shape).toEqual([2, options.numClasses ?? 10]);
        expect(Array.from(y.dataSync()).every(Number.isFinite)).toBe(true);
        y.dispose();
      }
      expect(tf.memory().numTensors).toBe(before);
      x.dispose();
    });

    it('has unique weight names and reports its metadata', () => {
      const names = [...model.params, ...model.buffers].map((p) => p.name);
      expect(new Set(names).size).toBe(names.length);
      expect(model.arch).toBe(arch);
      expect(model.numClasses).toBe(options.numClasses ?? 10);
      const specs = describeModel(arch, options);
      expect(specs.filter((s) => s.trainable).map((s) => s.name)).toEqual(model.params.map((p) => p.name));
      expect(specs.filter((s) => !s.trainable).map((s) => s.name)).toEqual(model.buffers.map((p) => p.name));
    });

    it('rejects inputs of the wrong shape with a message naming both shapes', () => {
      const [h, w] = model.inputShape;
      const x = tf.zeros([1, h, w, 2]) as tf.Tensor4D;
      expect(() => model.forward(x, { training: false })).toThrow(`expected input [batch, ${h}, ${w}`);
      x.dispose();
    });
  });

  it('frees every tensor on dispose', () => {
    const before = tf.memory().numTensors;
    const model = createModel('wide-resnet', {
      ...SMALL['wide-resnet'],
      normalize: { mean: [0, 0, 0], std: [1, 1, 1] },
    });
    expect(tf.memory().numTensors).toBeGreaterThan(before);
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(() => model.forward(tf.zeros([1, 8, 8, 3]) as tf.Tensor4D, { training: false })).toThrow(
      /after dispose/,
    );
  });
});

describe('seeded initialisation', () => {
  it.each([['fmnist-cnn'], ['wide-resnet']])(
    '%s: same seed → identical weights, other seed → different',
    (arch) => {
      const a = createModel(arch, SMALL[arch]);
      const b = createModel(arch, SMALL[arch]);
      const c = createModel(arch, { ...SMALL[arch], seed: 2 });
      const [sa, sb, sc] = [a, b, c].map(snapshot);
      for (const [name, values] of sa) {
        expect(Buffer.from((sb.get(name) as Float32Array).buffer).equals(Buffer.from(values.buffer))).toBe(
          true,
        );
      }
      const kernel = arch === 'fmnist-cnn' ? 'conv1.kernel' : 'block1.layer.0.conv1.kernel';
      expect(Array.from(sc.get(kernel) as Float32Array)).not.toEqual(
        Array.from(sa.get(kernel) as Float32Array),
      );
      [a, b, c].forEach((m) => m.dispose());
    },
  );

  it('initialises as documented: Kaiming fan_out convs, PyTorch-uniform dense, BN 1/0/0/1', () => {
    const model = createModel('wide-resnet', { seed: 3, depth: 10, widen: 2 });
    const get = (name: string) => {
      const found = [...model.params, ...model.buffers].find((p) => p.name === name);
      return Array.from((found as { variable: tf.Variable }).variable.dataSync());
    };
    const conv = get('block2.layer.0.conv1.kernel'); // [3, 3, 32, 64]
    const std = Math.sqrt(conv.reduce((s, v) => s + v * v, 0) / conv.length);
    expect(std / Math.sqrt(2 / (9 * 64))).toBeCloseTo(1, 1);
    const fc = get('fc.kernel'); // [128, 10]
    expect(Math.max(...fc.map(Math.abs))).toBeLessThanOrEqual(1 / Math.sqrt(128));
    expect(Math.max(...fc.map(Math.abs))).toBeGreaterThan(0.8 / Math.sqrt(128));
    expect(get('bn1.gamma').every((v) => v === 1)).toBe(true);
    expect(get('bn1.beta').every((v) => v === 0)).toBe(true);
    expect(get('bn1.runningMean').every((v) => v === 0)).toBe(true);
    expect(get('bn1.runningVar').every((v) => v === 1)).toBe(true);
    model.dispose();
  });
});

describe('batch-norm state through the model', () => {
  it('changes buffers only with updateStats (never in the eval mode attacks use)', () => {
    const model = createModel('wide-resnet', SMALL['wide-resnet']);
    const x = tf.tensor4d(
      Float32Array.from({ length: 4 * 8 * 8 * 3 }, (_, i) => Math.sin(i)),
      [4, 8, 8, 3],
    );
    const initial = snapshot(model);
    const buffersEqual = (s: Map<string, Float32Array>) =>
      model.buffers.every((b) =>
        Buffer.from((s.get(b.name) as Float32Array).buffer).equals(Buffer.from(initial.get(b.name)!.buffer)),
      );
    tf.dispose(model.forward(x, { training: false }));
    tf.dispose(model.forward(x, { training: true }));
    expect(buffersEqual(snapshot(model))).toBe(true);
    tf.dispose(model.forward(x, { training: true, updateStats: true }));
    const after = snapshot(model);
    expect(buffersEqual(after)).toBe(false);
    for (const p of model.params)
      expect(Array.from(after.get(p.name)!)).toEqual(Array.from(initial.get(p.name)!));
    x.dispose();
    model.dispose();
  });
});

describe('parameter counts equal the PyTorch reference', () => {
  const counts = loadTorchFixture().paramCounts;

  it.each([
    ['fmnist-cnn', {}, 'fmnist-cnn'],
    ['preact-resnet18', {}, 'preact-resnet18'],
    ['resnet18', {}, 'resnet18'],
    ['resnet18', { numClasses: 100 }, 'resnet18-100'],
    ['wide-resnet', {}, 'wide-resnet-34-10'],
    ['wide-resnet', { depth: 28, widen: 10 }, 'wide-resnet-28-10'],
    ['wide-resnet', { depth: 16, widen: 2 }, 'wide-resnet-16-2'],
  ])('%s %j (describeModel, nothing allocated)', (arch, options, key) => {
    const before = tf.memory().numTensors;
    expect(countParams(arch, options)).toBe(counts[key]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('WRN-34-10 is ~46.16M parameters, and the WRN count follows the closed form', () => {
    expect(counts['wide-resnet-34-10']).toBe(46160474);
    // Block(i→o) = BN(i) + 3x3 conv i→o + BN(o) + 3x3 conv o→o + (i≠o ? 1x1 conv i→o : 0)
    const block = (i: number, o: number) => 2 * i + 9 * i * o + 2 * o + 9 * o * o + (i === o ? 0 : i * o);
    const wrn = (depth: number, k: number, classes: number) => {
      const n = (depth - 4) / 6;
      const ch = [16, 16 * k, 32 * k, 64 * k];
      let total = 27 * 16 + 2 * ch[3] + ch[3] * classes + classes;
      for (let g = 1; g <= 3; g++) total += block(ch[g - 1], ch[g]) + (n - 1) * block(ch[g], ch[g]);
      return total;
    };
    for (const [depth, widen, classes] of [
      [34, 10, 10],
      [28, 10, 10],
      [16, 2, 10],
      [10, 1, 100],
      [22, 3, 7],
    ]) {
      expect(countParams('wide-resnet', { depth, widen, numClasses: classes })).toBe(
        wrn(depth, widen, classes),
      );
    }
  });
});
