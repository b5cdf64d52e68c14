/**
 * Winograd F(2x2, 3x3) (csrc/winograd.cc) for the 3x3 stride-1 "same" layers of >= 64 channels: the values of
 * the cpu backend's direct convolution to float32 rounding, forward and input gradient, odd sizes (partial
 * tiles), several channel slices (> 256 input channels), bias + ReLU; the same bits for any thread count;
 * and narrower, smaller or other layers exactly as before (im2col).
 */
import * as tf from '@tensorflow/tfjs-core';
import { nativeInfo, setNativeConvAlgorithm, setNativeThreads } from '@mat/native';
import { Rng } from '../../packages/core/src/rng';
import { convGradients, describeNative, expectParity, randomTensor, relativeError, runOn } from './helpers';

interface Layer {
  batch: number;
  h: number;
  w: number;
  inC: number;
  outC: number;
}

const label = (c: Layer) => `b${c.batch} ${c.h}x${c.w}x${c.inC}->${c.outC}`;

/** y = conv3x3(x, w, 'same') (+ bias, relu) and the gradients of sum(y * r) for x and w. */
function probe(c: Layer, seed: number, fused = false) {
  return () => {
    const rng = new Rng(seed);
    const x = randomTensor(rng, [c.batch, c.h, c.w, c.inC]) as tf.Tensor4D;
    const w = randomTensor(rng, [3, 3, c.inC, c.outC], -0.1, 0.1) as tf.Tensor4D;
    const bias = randomTensor(rng, [c.outC]) as tf.Tensor1D;
    const conv = (a: tf.Tensor4D, b: tf.Tensor4D) =>
      fused
        ? tf.fused.conv2d({ x: a, filter: b, strides: 1, pad: 'same', bias, activation: 'relu' })
        : tf.conv2d(a, b, 1, 'same');
    return convGradients(rng, x, w, conv);
  };
}

const LAYERS: Layer[] = [
  { batch: 2, h: 8, w: 8, inC: 64, outC: 64 }, // in blocks of tiles
  { batch: 2, h: 9, w: 11, inC: 64, outC: 96 }, // odd sides: the last tiles are partial
  { batch: 1, h: 8, w: 8, inC: 300, outC: 70 }, // the whole layer at once (large filters), C > KC = 256
  { batch: 2, h: 9, w: 8, inC: 128, outC: 64 },
];

describeNative('native Winograd F(2x2, 3x3)', () => {
  afterEach(() => {
    setNativeConvAlgorithm('auto');
    setNativeThreads(1);
  });

  it('is the default', () => {
    expect(nativeInfo().convAlgorithm).toBe('auto');
  });

  it.each(LAYERS.map((c, i) => [label(c), c, i] as const))('%s matches cpu', async (_n, c, i) => {
    await expectParity(label(c), probe(c, 300 + i), 2e-6);
  });

  it('bias + ReLU fused into the output transform matches cpu', async () => {
    await expectParity('fused', probe(LAYERS[1], 42, true), 2e-6);
  });

  it('runs: other bits than im2col, within float32 rounding of them', async () => {
    const c = LAYERS[0];
    const winograd = await runOn('native', probe(c, 7));
    setNativeConvAlgorithm('im2col');
    expect(nativeInfo().convAlgorithm).toBe('im2col');
    const im2col = await runOn('native', probe(c, 7));
    for (const name of ['y', 'dx'] as const) {
      expect(Buffer.from(winograd[name].values.buffer).equals(Buffer.from(im2col[name].values.buffer))).toBe(
        false,
      );
      expect(relativeError(winograd[name].values, im2col[name].values)).toBeLessThan(2e-6);
    }
    // The filter gradient stays im2col's in both.
    expect(Buffer.from(winograd.dw.values.buffer).equals(Buffer.from(im2col.dw.values.buffer))).toBe(true);
  });

  it('in blocks of tiles with two channel slices (C > KC = 256): the values of im2col to float32 rounding', async () => {
    // Too large for the cpu backend in a test; native im2col is checked against it above and in conv2d.test.ts.
    const c = { batch: 3, h: 48, w: 48, inC: 300, outC: 64 };
    const winograd = await runOn('native', probe(c, 13));
    setNativeConvAlgorithm('im2col');
    const im2col = await runOn('native', probe(c, 13));
    for (const name of ['y', 'dx'] as const)
      expect(relativeError(winograd[name].values, im2col[name].values)).toBeLessThan(2e-6);
  });

  it.each([
    ['in blocks of tiles', { batch: 4, h: 9, w: 8, inC: 64, outC: 128 }],
    ['the whole layer at once', { batch: 4, h: 9, w: 8, inC: 128, outC: 160 }],
  ])('gives the same bits for 1, 2 and 3 threads (%s)', async (_how, c) => {
    const results = [];
    for (const threads of [1, 2, 3]) {
      setNativeThreads(threads);
      results.push(await runOn('native', probe(c, 11)));
    }
    for (const r of results.slice(1))
      for (const name of ['y', 'dx', 'dw'] as const)
        expect(Buffer.from(r[name].values.buffer).equals(Buffer.from(results[0][name].values.buffer))).toBe(
          true,
        );
  });

  it('leaves narrower layers, smaller images, strided and valid ones on im2col, bit for bit', async () => {
    const cases: Array<[string, () => Record<string, tf.Tensor>]> = [
      ['32 channels', probe({ batch: 2, h: 8, w: 8, inC: 32, outC: 64 }, 5)],
      ['4x4 pixels', probe({ batch: 2, h: 4, w: 4, inC: 64, outC: 64 }, 8)],
      [
        'stride 2',
        () => {
          const rng = new Rng(6);
          const x = randomTensor(rng, [2, 8, 8, 64]) as tf.Tensor4D;
          const w = randomTensor(rng, [3, 3, 64, 64]) as tf.Tensor4D;
          return { y: tf.conv2d(x, w, 2, 'same'), valid: tf.conv2d(x, w, 1, 'valid') };
        },
      ],
    ];
    for (const [, p] of cases) {
      const auto = await runOn('native', p);
      setNativeConvAlgorithm('im2col');
      const im2col = await runOn('native', p);
      setNativeConvAlgorithm('auto');
      for (const name of Object.keys(auto))
        expect(Buffer.from(auto[name].values.buffer).equals(Buffer.from(im2col[name].values.buffer))).toBe(
          true,
        );
    }
  });

  it('refuses an unknown algorithm', () => {
    expect(() => setNativeConvAlgorithm('fft' as 'auto')).toThrow(/unknown algorithm 'fft'/);
  });
});
