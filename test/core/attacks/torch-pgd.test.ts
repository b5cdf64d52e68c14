/**
 * PGD-10 (l_inf) against PyTorch, bit for bit, on every backend. The fixture (scripts/reference/make_pgd_fixture.py)
 * holds PyTorch's end point for a confident fmnist-cnn on real Fashion-MNIST images, where thousands of input
 * gradient entries are below float32's epsilon: an attack whose sign() loses them (tfjs-backend-wasm's built-in
 * Sign returned 0 below epsilon) ends elsewhere on thousands of pixels.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import {
  applyEntriesToModel,
  createModel,
  fromPyTorchEntries,
  PgdLinf,
  Rng,
  selectBackend,
  type BackendName,
} from '@mat/core';
import { registerNativeBackend } from '@mat/native';
import { loadFashionMnist } from '../helpers/fashion-mnist-subset';
import { loadTorchFixture, referenceTorchEntries } from '../models/reference-weights';

interface TorchPgdFixture {
  weightSeed: number;
  logitScale: number;
  batch: number;
  labels: number[];
  eps: number;
  stepSize: number;
  steps: number;
  xAdvNhwcFloat32Base64: string;
  tinyGradientEntries: number;
  flushedSign: { pixelsThatDiffer: number; imagesThatDiffer: number };
}

const fixture = JSON.parse(
  fs.readFileSync(path.join(__dirname, '..', '..', 'fixtures', 'attacks', 'torch-pgd.json'), 'utf8'),
) as TorchPgdFixture;
const bytes = Buffer.from(fixture.xAdvNhwcFloat32Base64, 'base64');
const torchXAdv = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);

if (!registerNativeBackend()) throw new Error('@mat/native addon is not built (npm ci builds it)');
/**
 * Images attacked per backend. In eval mode each image's attack is independent of the others, so a prefix of the
 * batch must reproduce the same prefix of the fixture; the tfjs cpu backend is slow enough to get only a few.
 */
const CASES: [BackendName, number][] = [
  ['cpu', 6],
  ['wasm', fixture.batch],
  ['native', fixture.batch],
];

/** PyTorch's reference weights for fmnist-cnn with the last layer scaled, as the fixture script does. */
function torchEntries() {
  const stateDict = loadTorchFixture().stateDicts['fmnist-cnn'];
  return referenceTorchEntries(stateDict, fixture.weightSeed).map((e) =>
    e.name.startsWith('fc2.')
      ? { ...e, data: Float32Array.from(e.data as Float32Array, (v) => v * fixture.logitScale) }
      : e,
  );
}

describe('the fixture', () => {
  it('exercises gradients below float32 epsilon, where an inexact sign changes the end point', () => {
    expect(torchXAdv.length).toBe(fixture.batch * 28 * 28);
    expect(fixture.tinyGradientEntries).toBeGreaterThan(10);
    expect(fixture.flushedSign.pixelsThatDiffer).toBeGreaterThan(1000);
    expect(fixture.flushedSign.imagesThatDiffer).toBeGreaterThanOrEqual(fixture.batch / 4);
  });
});

describe.each(CASES)('PGD-10 on %s, %i images', (backend, count) => {
  it("ends at PyTorch's float32 end point, bit for bit", async () => {
    await selectBackend(backend);
    expect(tf.getBackend()).toBe(backend);
    const model = createModel('fmnist-cnn', { seed: 0, skipInit: true });
    applyEntriesToModel(model, fromPyTorchEntries(model, torchEntries()), 'reference weights');
    const { images } = loadFashionMnist('t10k', count);
    const x = tf.tensor4d(images, [count, 28, 28, 1]);
    const y = tf.tensor1d(fixture.labels.slice(0, count), 'int32');
    const attack = new PgdLinf({
      eps: fixture.eps,
      stepSize: fixture.stepSize,
      steps: fixture.steps,
      randomStart: false,
      rng: new Rng(0),
    });
    const xAdv = attack.attack(model, x, y);
    const ours = await xAdv.data();
    expect(ours.length).toBe(count * 28 * 28);
    let differing = 0;
    for (let i = 0; i < ours.length; i++) if (!Object.is(ours[i], torchXAdv[i])) differing++;
    expect(differing).toBe(0);
    tf.dispose([x, y, xAdv]);
    model.dispose();
  });
});
