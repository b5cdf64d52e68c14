import '@tensorflow/tfjs-backend-cpu';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import {
  convKernelFromTorch,
  convKernelToTorch,
  createModel,
  decodeTensorFile,
  denseKernelFromTorch,
  denseKernelToTorch,
  describeModel,
  encodeTensorFile,
  exportWeightsForPyTorch,
  detectWeightsLayout,
  importWeightsFromPyTorch,
  loadWeightsFile,
  modelToEntries,
  saveModelWeights,
  toPyTorchEntries,
  toPyTorchStateDict,
  torchName,
  writeFileAtomic,
  type Model,
} from '@mat/core';
import { loadTorchFixture } from './reference-weights';

let dir: string;
beforeAll(() => {
  tf.setBackend('cpu');
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mat-torch-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const ramp = (n: number) => Float32Array.from({ length: n }, (_, i) => i * 0.5 - 3);

describe('names', () => {
  it.each([
    ['conv1.kernel', 'conv1.weight'],
    ['fc1.bias', 'fc1.bias'],
    ['layer1.0.bn1.gamma', 'layer1.0.bn1.weight'],
    ['layer1.0.bn1.beta', 'layer1.0.bn1.bias'],
    ['layer2.0.shortcut.1.runningMean', 'layer2.0.shortcut.1.running_mean'],
    ['bn.runningVar', 'bn.running_var'],
  ])('%s → %s', (ours, theirs) => expect(torchName(ours)).toBe(theirs));

  it('rejects names without a known leaf', () => {
    expect(() => torchName('conv1.weight')).toThrow(/unknown leaf 'weight'/);
  });

  it.each([
    ['fmnist-cnn', {}],
    ['preact-resnet18', {}],
    ['resnet18', {}],
    ['wide-resnet-16-2', { depth: 16, widen: 2 }],
  ])('%s: names and PyTorch shapes equal the reference state_dict', (key, options) => {
    const arch = key.startsWith('wide-resnet') ? 'wide-resnet' : key;
    const toTorchShape = (s: readonly number[]) =>
      s.length === 4 ? [s[3], s[2], s[0], s[1]] : s.length === 2 ? [s[1], s[0]] : [...s];
    const ours = describeModel(arch, options).map((s) =>
      JSON.stringify([torchName(s.name), toTorchShape(s.shape)]),
    );
    const theirs = loadTorchFixture().stateDicts[key].map((e) => JSON.stringify(e));
    expect(ours.sort()).toEqual(theirs.sort());
  });
});

describe('layout conversions', () => {
  it('conv: tfjs [kh, kw, in, out] ↔ PyTorch [out, in, kh, kw] (oracle: tf.transpose)', () => {
    const shape = [3, 2, 4, 5];
    const data = ramp(120);
    const expected = tf.tidy(() =>
      tf.transpose(tf.tensor4d(data, shape as [number, number, number, number]), [3, 2, 0, 1]).dataSync(),
    );
    const torch = convKernelToTorch(data, shape);
    expect(Array.from(torch)).toEqual(Array.from(expected));
    expect(Array.from(convKernelFromTorch(torch, [5, 4, 3, 2]))).toEqual(Array.from(data));
  });

  it('dense: tfjs [in, out] ↔ PyTorch [out, in]', () => {
    const data = ramp(12);
    const torch = denseKernelToTorch(data, [4, 3]);
    expect(Array.from(torch)).toEqual(
      Array.from(tf.tidy(() => tf.transpose(tf.tensor2d(data, [4, 3])).dataSync())),
    );
    expect(Array.from(denseKernelFromTorch(torch, [3, 4]))).toEqual(Array.from(data));
  });

  it('dense after an NHWC flatten: rows are permuted to PyTorch NCHW column order', () => {
    const [h, w, c, out] = [2, 3, 4, 5];
    const data = ramp(h * w * c * out);
    // Oracle: kernel rows indexed (h, w, c) → reorder to (c, h, w), then transpose to [out, in].
    const expected = tf.tidy(() =>
      tf.reshape(tf.transpose(tf.tensor4d(data, [h, w, c, out]), [3, 2, 0, 1]), [out, c * h * w]).dataSync(),
    );
    const torch = denseKernelToTorch(data, [h * w * c, out], [h, w, c]);
    expect(Array.from(torch)).toEqual(Array.from(expected));
    expect(Array.from(denseKernelFromTorch(torch, [out, h * w * c], [h, w, c]))).toEqual(Array.from(data));
    expect(() => denseKernelToTorch(data, [h * w * c, out], [h, w, 3])).toThrow(
      /does not match 24 kernel rows/,
    );
  });

  it('the NHWC→NCHW permutation makes a PyTorch-style forward pass agree with the tfjs one', () => {
    // A feature map, flattened both ways, through the same dense layer in its two layouts.
    const [h, w, c, out] = [2, 2, 3, 2];
    const map = ramp(h * w * c); // NHWC
    const kernel = ramp(h * w * c * out).map((v) => v / 7);
    const tfOut = tf.tidy(() =>
      tf.matMul(tf.tensor2d(map, [1, h * w * c]), tf.tensor2d(kernel, [h * w * c, out])).dataSync(),
    );
    const nchw = tf.tidy(() => tf.transpose(tf.tensor3d(map, [h, w, c]), [2, 0, 1]).dataSync());
    const torchW = denseKernelToTorch(kernel, [h * w * c, out], [h, w, c]);
    for (let o = 0; o < out; o++) {
      let s = 0;
      for (let i = 0; i < h * w * c; i++) s += torchW[o * h * w * c + i] * nchw[i];
      expect(s).toBeCloseTo(tfOut[o], 4);
    }
  });
});

describe('exportWeightsForPyTorch / importWeightsFromPyTorch', () => {
  let source: Model;
  let file: string;

  beforeAll(() => {
    source = createModel('fmnist-cnn', { seed: 5, numClasses: 4 });
    file = path.join(dir, 'fmnist.pt.safetensors');
    exportWeightsForPyTorch(source, file, { run: 'r1' });
  });
  afterAll(() => source.dispose());

  it('writes PyTorch names, shapes and layouts', () => {
    const { tensors, metadata } = decodeTensorFile(fs.readFileSync(file), file);
    expect(metadata).toMatchObject({ format: 'mat-weights-pytorch', arch: 'fmnist-cnn', run: 'r1' });
    expect([...tensors.keys()]).toEqual([
      'conv1.weight',
      'conv1.bias',
      'conv2.weight',
      'conv2.bias',
      'fc1.weight',
      'fc1.bias',
      'fc2.weight',
      'fc2.bias',
    ]);
    expect(tensors.get('conv2.weight')?.shape).toEqual([64, 32, 3, 3]);
    expect(tensors.get('fc1.weight')?.shape).toEqual([128, 3136]);
    expect(tensors.get('fc2.weight')?.shape).toEqual([4, 128]);
  });

  it('round-trips into another model, ignoring num_batches_tracked', () => {
    const { entries } = decodeTensorFile(fs.readFileSync(file), file);
    entries.push({ name: 'bn.num_batches_tracked', shape: [], dtype: 'int32', data: Int32Array.from([7]) });
    const withCounter = path.join(dir, 'with-counter.safetensors');
    writeFileAtomic(withCounter, encodeTensorFile(entries));
    const target = createModel('fmnist-cnn', { seed: 6, numClasses: 4 });
    importWeightsFromPyTorch(target, withCounter);
    const a = toPyTorchEntries(source);
    const b = toPyTorchEntries(target);
    a.forEach((e, i) => expect([...b[i].data]).toEqual([...e.data]));
    target.dispose();
  });

  it('reports PyTorch tensors that fit nothing, and changes nothing', () => {
    const target = createModel('fmnist-cnn', { seed: 6, numClasses: 3 });
    const before = target.params.map((p) => Array.from(p.variable.dataSync()));
    expect(() => importWeightsFromPyTorch(target, file)).toThrow(
      /mismatched: fc2\.kernel \(file float32 \[4, 128\], model float32 \[128, 3\]\)/,
    );
    target.params.forEach((p, i) => expect(Array.from(p.variable.dataSync())).toEqual(before[i]));
    target.dispose();
  });
});

describe('state_dict with num_batches_tracked, and loading either layout', () => {
  const options = { seed: 3, inputShape: [8, 8, 3] as [number, number, number], depth: 10, widen: 1 };
  let source: Model;
  let matFile: string;
  let torchFile: string;

  beforeAll(() => {
    source = createModel('wide-resnet', options);
    const x = tf.tensor4d(
      Float32Array.from({ length: 2 * 8 * 8 * 3 }, (_, i) => Math.sin(i)),
      [2, 8, 8, 3],
    );
    tf.dispose(source.forward(x, { training: true, updateStats: true })); // non-default running statistics
    x.dispose();
    matFile = path.join(dir, 'wrn.mat.safetensors');
    torchFile = path.join(dir, 'wrn.pt.safetensors');
    saveModelWeights(source, matFile);
    exportWeightsForPyTorch(source, torchFile, {}, 42);
  });
  afterAll(() => source.dispose());

  const snapshot = (m: Model) => modelToEntries(m).map((e) => Buffer.from(e.data.buffer));

  it("puts an int64 num_batches_tracked after each batch norm's running_var, as PyTorch orders them", () => {
    const names = toPyTorchStateDict(source, 42).map((e) => e.name);
    const bns = source.buffers
      .filter((b) => b.name.endsWith('.runningMean'))
      .map((b) => b.name.slice(0, -12));
    expect(bns.length).toBeGreaterThan(3);
    for (const bn of bns) {
      const at = names.indexOf(`${bn}.num_batches_tracked`);
      expect(names[at - 1]).toBe(`${bn}.running_var`);
    }
    const { tensors } = decodeTensorFile(fs.readFileSync(torchFile), torchFile);
    const counter = tensors.get('block1.layer.0.bn1.num_batches_tracked');
    expect(counter?.dtype).toBe('int64');
    expect(counter?.shape).toEqual([]);
    expect(Array.from(counter?.data as BigInt64Array)).toEqual([42n]);
  });

  it.each([
    ['MAT', () => matFile, 'mat'],
    ['PyTorch', () => torchFile, 'pytorch'],
  ])('loads a %s-layout file exactly', (_name, file, layout) => {
    const target = createModel('wide-resnet', { ...options, seed: 9 });
    expect(loadWeightsFile(target, file()).layout).toBe(layout);
    const [a, b] = [source, target].map(snapshot);
    a.forEach((buf, i) => expect(b[i].equals(buf)).toBe(true));
    target.dispose();
  });

  it('tells the layout from the names when the metadata does not say (files from Python)', () => {
    for (const [file, layout] of [
      [matFile, 'mat'],
      [torchFile, 'pytorch'],
    ]) {
      const { entries } = decodeTensorFile(fs.readFileSync(file), file);
      expect(detectWeightsLayout({ entries, metadata: { format: 'pt' } }, file)).toBe(layout);
      expect(detectWeightsLayout({ entries, metadata: {} }, file)).toBe(layout);
    }
    const f = (name: string) => ({ name, shape: [1], dtype: 'float32' as const, data: new Float32Array(1) });
    expect(() => detectWeightsLayout({ entries: [f('fc.bias')], metadata: {} }, 'odd')).toThrow(
      /^odd: cannot tell whether the tensor names are MAT's/,
    );
    expect(() =>
      detectWeightsLayout({ entries: [f('a.kernel'), f('b.weight')], metadata: {} }, 'mixed'),
    ).toThrow(/it has both/);
    expect(() =>
      detectWeightsLayout({ entries: [f('param/a.kernel')], metadata: { format: 'mat-checkpoint' } }, 'ck'),
    ).toThrow(/^ck: is one peer's file of a MAT checkpoint .*mat export/);
  });

  it('refuses NaN or infinite weights, naming them, and leaves the model unchanged', () => {
    const { entries, metadata } = decodeTensorFile(fs.readFileSync(torchFile), torchFile);
    (entries.find((e) => e.name === 'block2.layer.0.conv1.weight')?.data as Float32Array)[5] = NaN;
    (entries.find((e) => e.name === 'block1.layer.0.bn1.running_var')?.data as Float32Array)[0] = Infinity;
    const bad = path.join(dir, 'nan.safetensors');
    writeFileAtomic(bad, encodeTensorFile(entries, metadata));
    const target = createModel('wide-resnet', { ...options, seed: 9 });
    const before = snapshot(target);
    expect(() => loadWeightsFile(target, bad)).toThrow(
      /nan\.safetensors: weights are not finite \(NaN or ±Infinity\)/,
    );
    expect(() => loadWeightsFile(target, bad)).toThrow(/block2\.layer\.0\.conv1\.kernel \(1\)/);
    expect(() => loadWeightsFile(target, bad)).toThrow(/block1\.layer\.0\.bn1\.runningVar \(1\)/);
    snapshot(target).forEach((buf, i) => expect(buf.equals(before[i])).toBe(true));
    target.dispose();
  });
});
