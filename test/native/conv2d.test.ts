import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../../packages/core/src/rng';
import { convGradients, describeNative, expectParity, randomTensor } from './helpers';

interface ConvCase {
  batch: number;
  h: number;
  w: number;
  inC: number;
  outC: number;
  f: [number, number];
  stride: number;
  pad: 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];
  dilation?: number;
}

const label = (c: ConvCase) =>
  `b${c.batch} ${c.h}x${c.w}x${c.inC}->${c.outC} f${c.f.join('x')} s${c.stride} ${JSON.stringify(c.pad)} d${c.dilation ?? 1}`;

/** Stride 1/2, same/valid, 1x1/3x3 (and a 2x3), odd sizes, batch 1 and 3, channels not multiples of 8. */
function grid(): ConvCase[] {
  const cases: ConvCase[] = [];
  for (const [h, w, inC, outC] of [
    [7, 9, 3, 5],
    [8, 6, 13, 17],
  ])
    for (const f of [
      [1, 1],
      [3, 3],
    ] as [number, number][])
      for (const stride of [1, 2])
        for (const pad of ['same', 'valid'] as const)
          for (const batch of [1, 3]) cases.push({ batch, h, w, inC, outC, f, stride, pad });
  cases.push({ batch: 2, h: 5, w: 5, inC: 1, outC: 33, f: [2, 3], stride: 1, pad: 'same' });
  cases.push({
    batch: 2,
    h: 6,
    w: 7,
    inC: 4,
    outC: 6,
    f: [3, 3],
    stride: 1,
    pad: [
      [0, 0],
      [1, 2],
      [2, 0],
      [0, 0],
    ],
  });
  // Padding wider than the filter: the stride-1 input gradient cannot run as a padded forward convolution
  // and takes the GEMM + col2im path.
  cases.push({
    batch: 2,
    h: 4,
    w: 5,
    inC: 3,
    outC: 4,
    f: [2, 2],
    stride: 1,
    pad: [
      [0, 0],
      [3, 1],
      [0, 2],
      [0, 0],
    ],
  });
  return cases;
}

/** y = conv(x, w) and the gradients of sum(y * r) (r random, so every output position matters). */
function convProbe(c: ConvCase, seed: number) {
  return () => {
    const rng = new Rng(seed);
    const x = randomTensor(rng, [c.batch, c.h, c.w, c.inC]) as tf.Tensor4D;
    const w = randomTensor(rng, [...c.f, c.inC, c.outC]) as tf.Tensor4D;
    return convGradients(rng, x, w, (a, b) => tf.conv2d(a, b, c.stride, c.pad, 'NHWC', c.dilation ?? 1));
  };
}

describeNative('native Conv2D, Conv2DBackpropInput, Conv2DBackpropFilter match cpu', () => {
  it.each(grid().map((c, i) => [label(c), c, i] as const))('%s', async (_name, c, i) => {
    await expectParity(label(c), convProbe(c, 100 + i));
  });

  it('forward with dilation 2 (no gradient: tfjs has none for dilated conv)', async () => {
    await expectParity('dilated', () => {
      const rng = new Rng(7);
      const x = randomTensor(rng, [2, 9, 8, 5]) as tf.Tensor4D;
      const w = randomTensor(rng, [3, 3, 5, 7]) as tf.Tensor4D;
      return { same: tf.conv2d(x, w, 1, 'same', 'NHWC', 2), valid: tf.conv2d(x, w, 1, 'valid', 'NHWC', 2) };
    });
  });

  it('a layer with several GEMM depth slices (taps > 256), row blocks (> 240) and column panels', async () => {
    await expectParity(
      'deep',
      convProbe({ batch: 1, h: 16, w: 17, inC: 29, outC: 35, f: [3, 3], stride: 1, pad: 'same' }, 9),
    );
  });
});

describeNative('native FusedConv2D matches cpu', () => {
  it.each(['linear', 'relu'] as const)('bias + %s', async (activation) => {
    await expectParity(`fused ${activation}`, () => {
      const rng = new Rng(11);
      const x = randomTensor(rng, [3, 7, 9, 6]) as tf.Tensor4D;
      const w = randomTensor(rng, [3, 3, 6, 11]) as tf.Tensor4D;
      const bias = randomTensor(rng, [11]) as tf.Tensor1D;
      return {
        withBias: tf.fused.conv2d({ x, filter: w, strides: 2, pad: 'same', bias, activation }),
        noBias: tf.fused.conv2d({ x, filter: w, strides: 1, pad: 'valid', activation }),
      };
    });
  });

  it('unsupported activation (elu) falls back to the cpu kernel', async () => {
    await expectParity('fused elu', () => {
      const rng = new Rng(12);
      const x = randomTensor(rng, [1, 5, 5, 3]) as tf.Tensor4D;
      const w = randomTensor(rng, [3, 3, 3, 4]) as tf.Tensor4D;
      return { y: tf.fused.conv2d({ x, filter: w, strides: 1, pad: 'same', activation: 'elu' }) };
    });
  });
});
