/**
 * Every forward op and gradient that MAT's models, losses and attacks use, on wasm vs cpu: values and
 * gradients must agree to a relative error of 1e-4. A missing wasm kernel or gradient shows up here as a
 * thrown "not registered" / "gradient function not found" error.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BackendRequest, Rng } from '@mat/core';
import {
  expectBackendsMatch,
  gradientProbe,
  randomInts,
  randomTensor as rand,
  type GradientCase,
} from './gradient-parity';

type Case = [name: string, build: (rng: Rng) => GradientCase];

/** Values where an inexact sign shows: below FLT_EPSILON, at and below FLT_MIN (subnormals), signed zeros. */
const SIGN_EDGE_VALUES = [
  1e-30,
  -1e-30,
  1e-8,
  -1e-8,
  1.1920929e-7,
  -5.9604645e-8,
  1.17549435e-38,
  -1.17549435e-38,
  1e-40,
  -1e-40,
  1.4e-45,
  -1.4e-45,
  0,
  -0,
  NaN,
  Infinity,
  -Infinity,
  0.5,
  -3,
];

const convCases: Case[] = (
  [
    // [filter, stride, padding, input size]
    [3, 1, 'same', 8],
    [3, 2, 'same', 8],
    [3, 2, 'same', 7],
    [3, 1, 'valid', 7],
    [3, 2, 'valid', 8],
    [1, 1, 'same', 6],
    [1, 2, 'valid', 7], // ResNet shortcut
    [5, 2, 'same', 9],
    [3, 3, 'valid', 10],
  ] as const
).map(([k, s, pad, size]): Case => [
  `conv2d ${k}x${k} stride ${s} ${pad} on ${size}x${size}`,
  (rng) => ({
    inputs: [rand(rng, [2, size, size, 3]), rand(rng, [k, k, 3, 4])],
    f: (x, w) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, s, pad),
  }),
]);

/** Batch norm as the models compute it: batch statistics from tf.moments, normalised, scaled and shifted. */
function batchNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, viaSqrt: boolean): tf.Tensor {
  const { mean, variance } = tf.moments(x, [0, 1, 2]);
  const eps = tf.scalar(1e-5);
  const normalised = viaSqrt
    ? tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, eps)))
    : tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps)));
  return tf.add(tf.mul(normalised, gamma), beta);
}

const cases: Case[] = [
  ...convCases,
  [
    'fused conv2d + bias + relu',
    (rng) => ({
      inputs: [rand(rng, [2, 6, 6, 3]), rand(rng, [3, 3, 3, 4]), rand(rng, [4])],
      f: (x, w, b) =>
        tf.fused.conv2d({
          x: x as tf.Tensor4D,
          filter: w as tf.Tensor4D,
          bias: b,
          strides: 1,
          pad: 'same',
          activation: 'relu',
        }),
    }),
  ],
  [
    'maxPool 2x2 stride 2',
    (rng) => ({ inputs: [rand(rng, [2, 6, 6, 3])], f: (x) => tf.maxPool(x as tf.Tensor4D, 2, 2, 'valid') }),
  ],
  [
    'maxPool 2x2 stride 2 on 7x7 (a row and a column left over)',
    (rng) => ({ inputs: [rand(rng, [2, 7, 7, 3])], f: (x) => tf.maxPool(x as tf.Tensor4D, 2, 2, 'valid') }),
  ],
  [
    // Values rounded to halves: many ties, which the gradient must send to the first maximum, as cpu does.
    'maxPool 3x3 stride 3 with ties',
    (rng) => ({
      inputs: [tf.div(tf.round(tf.mul(rand(rng, [2, 9, 9, 2]), 2)), 2)],
      f: (x) => tf.maxPool(x as tf.Tensor4D, 3, 3, 'valid'),
    }),
  ],
  [
    'maxPool 3x3 stride 1 same',
    (rng) => ({ inputs: [rand(rng, [2, 5, 5, 3])], f: (x) => tf.maxPool(x as tf.Tensor4D, 3, 1, 'same') }),
  ],
  [
    'avgPool 2x2 stride 2',
    (rng) => ({ inputs: [rand(rng, [2, 6, 6, 3])], f: (x) => tf.avgPool(x as tf.Tensor4D, 2, 2, 'valid') }),
  ],
  [
    'avgPool 3x3 stride 2 same',
    (rng) => ({ inputs: [rand(rng, [2, 7, 7, 3])], f: (x) => tf.avgPool(x as tf.Tensor4D, 3, 2, 'same') }),
  ],
  [
    'global average pool (mean over H, W)',
    (rng) => ({ inputs: [rand(rng, [2, 4, 4, 3])], f: (x) => tf.mean(x, [1, 2]) }),
  ],
  ['relu', (rng) => ({ inputs: [rand(rng, [2, 4, 4, 3])], f: (x) => tf.relu(x) })],
  [
    'batch norm via moments + rsqrt',
    (rng) => ({
      inputs: [rand(rng, [2, 4, 4, 3]), rand(rng, [3], 0.5, 1.5), rand(rng, [3])],
      f: (x, g, b) => batchNorm(x, g, b, false),
    }),
  ],
  [
    'batch norm via moments + sqrt',
    (rng) => ({
      inputs: [rand(rng, [2, 4, 4, 3]), rand(rng, [3], 0.5, 1.5), rand(rng, [3])],
      f: (x, g, b) => batchNorm(x, g, b, true),
    }),
  ],
  [
    'dense: matMul + bias',
    (rng) => ({
      inputs: [rand(rng, [3, 5]), rand(rng, [5, 4]), rand(rng, [4])],
      f: (x, w, b) => tf.add(tf.matMul(x, w), b),
    }),
  ],
  [
    'matMul transposeB',
    (rng) => ({ inputs: [rand(rng, [3, 5]), rand(rng, [4, 5])], f: (a, b) => tf.matMul(a, b, false, true) }),
  ],
  [
    // Padding wider than the filter: wasm's Conv2DBackpropInput falls back to the built-in kernel.
    'conv2d 2x2 with explicit padding 3',
    (rng) => ({
      inputs: [rand(rng, [1, 4, 4, 2]), rand(rng, [2, 2, 2, 3])],
      f: (x, w) =>
        tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, [
          [0, 0],
          [3, 3],
          [3, 3],
          [0, 0],
        ]),
    }),
  ],
  [
    'matMul transposeA',
    (rng) => ({ inputs: [rand(rng, [5, 3]), rand(rng, [5, 4])], f: (a, b) => tf.matMul(a, b, true, false) }),
  ],
  [
    'batched matMul, both transposed',
    (rng) => ({
      inputs: [rand(rng, [2, 5, 3]), rand(rng, [2, 4, 5])],
      f: (a, b) => tf.matMul(a, b, true, true),
    }),
  ],
  ...(
    [
      ['add', tf.add],
      ['sub', tf.sub],
      ['mul', tf.mul],
    ] as const
  ).map(([name, op]): Case => [
    `${name} with broadcasting`,
    (rng) => ({ inputs: [rand(rng, [2, 3, 4]), rand(rng, [3, 1])], f: (a, b) => op(a, b) }),
  ]),
  [
    'div with broadcasting',
    (rng) => ({ inputs: [rand(rng, [2, 3, 4]), rand(rng, [4], 0.5, 2)], f: (a, b) => tf.div(a, b) }),
  ],
  ['logSoftmax', (rng) => ({ inputs: [rand(rng, [3, 5], -3, 3)], f: (x) => tf.logSoftmax(x) })],
  ['softmax', (rng) => ({ inputs: [rand(rng, [3, 5], -3, 3)], f: (x) => tf.softmax(x) })],
  [
    'cross-entropy with oneHot labels',
    (rng) => {
      const labels = randomInts(rng, [4], 5);
      return {
        inputs: [rand(rng, [4, 5], -3, 3)],
        constants: [labels],
        f: (logits) =>
          tf.neg(tf.mean(tf.sum(tf.mul(tf.oneHot(labels as tf.Tensor1D, 5), tf.logSoftmax(logits)), 1))),
      };
    },
  ],
  ['sum over an axis', (rng) => ({ inputs: [rand(rng, [3, 4, 2])], f: (x) => tf.sum(x, 1) })],
  ['sum of all', (rng) => ({ inputs: [rand(rng, [3, 4])], f: (x) => tf.sum(x) })],
  ['mean over axes', (rng) => ({ inputs: [rand(rng, [3, 4, 2])], f: (x) => tf.mean(x, [0, 2]) })],
  ['sign', (rng) => ({ inputs: [rand(rng, [3, 4])], f: (x) => tf.mul(tf.sign(x), x) })],
  [
    // Attack steps take the sign of input gradients, which can be far below float32's epsilon.
    'sign of tiny magnitudes, subnormals, ±0, NaN and ±Infinity',
    () => ({ inputs: [tf.tensor1d(SIGN_EDGE_VALUES)], f: (x) => tf.sign(x) }),
  ],
  ...([1e-30, 1e-38, 1e-42] as const).map((scale): Case => [
    `an l_inf attack step x + 0.1 * sign(g) with |g| ~ ${scale}`,
    (rng) => ({
      inputs: [rand(rng, [2, 4, 4, 1], 0, 1), tf.mul(rand(rng, [2, 4, 4, 1]), scale)],
      f: (x, g) => tf.clipByValue(tf.add(x, tf.mul(tf.sign(g), 0.1)), 0, 1),
    }),
  ]),
  ['abs', (rng) => ({ inputs: [rand(rng, [3, 4])], f: (x) => tf.abs(x) })],
  ['square', (rng) => ({ inputs: [rand(rng, [3, 4])], f: (x) => tf.square(x) })],
  ['sqrt', (rng) => ({ inputs: [rand(rng, [3, 4], 0.1, 2)], f: (x) => tf.sqrt(x) })],
  ['exp and log', (rng) => ({ inputs: [rand(rng, [3, 4], 0.1, 2)], f: (x) => tf.add(tf.exp(x), tf.log(x)) })],
  ['clipByValue', (rng) => ({ inputs: [rand(rng, [4, 5])], f: (x) => tf.clipByValue(x, -0.5, 0.5) })],
  ['minimum', (rng) => ({ inputs: [rand(rng, [4, 5]), rand(rng, [4, 5])], f: (a, b) => tf.minimum(a, b) })],
  ['maximum', (rng) => ({ inputs: [rand(rng, [4, 5]), rand(rng, [5])], f: (a, b) => tf.maximum(a, b) })],
  [
    'where with a condition computed from the input',
    (rng) => ({
      inputs: [rand(rng, [4, 5]), rand(rng, [4, 5])],
      f: (a, b) => tf.where(tf.greater(a, b), tf.mul(a, 2), tf.square(b)),
    }),
  ],
  [
    'pad',
    (rng) => ({
      inputs: [rand(rng, [2, 3, 3, 2])],
      f: (x) =>
        tf.pad(x, [
          [0, 0],
          [1, 2],
          [2, 1],
          [0, 0],
        ]),
    }),
  ],
  ['slice', (rng) => ({ inputs: [rand(rng, [2, 5, 4])], f: (x) => tf.slice(x, [0, 1, 1], [2, 3, 2]) })],
  [
    'concat',
    (rng) => ({ inputs: [rand(rng, [2, 3]), rand(rng, [2, 4])], f: (a, b) => tf.concat([a, b], 1) }),
  ],
  [
    'reshape',
    (rng) => ({ inputs: [rand(rng, [2, 3, 4])], f: (x) => tf.mul(tf.reshape(x, [6, 4]), tf.range(1, 5)) }),
  ],
  ['transpose', (rng) => ({ inputs: [rand(rng, [2, 3, 4])], f: (x) => tf.transpose(x, [2, 0, 1]) })],
  ['topk values', (rng) => ({ inputs: [rand(rng, [3, 10])], f: (x) => tf.topk(x, 4).values })],
  [
    'topk of |x| per sample (the l1 attack pattern)',
    (rng) => ({
      inputs: [rand(rng, [2, 3, 3, 2])],
      f: (x) => tf.topk(tf.reshape(tf.abs(x), [2, 18]), 5).values,
    }),
  ],
  [
    'gather on axis 0 with repeated indices',
    (rng) => {
      const indices = tf.tensor1d([4, 0, 2, 2, 1], 'int32');
      return { inputs: [rand(rng, [5, 3])], constants: [indices], f: (x) => tf.gather(x, indices) };
    },
  ],
  [
    'gather on axis 1',
    (rng) => {
      const indices = randomInts(rng, [6], 4);
      return { inputs: [rand(rng, [2, 4, 3])], constants: [indices], f: (x) => tf.gather(x, indices, 1) };
    },
  ],
];

// MAT_PARITY_BACKENDS=wasm,native checks other backends against cpu the same way.
const backendsUnderTest = (process.env.MAT_PARITY_BACKENDS ?? 'wasm').split(',') as BackendRequest[];

describe.each(backendsUnderTest)('%s vs cpu: forward values and gradients', (backend) => {
  it.each(cases)('%s', async (_name, build) => {
    await expectBackendsMatch(gradientProbe(build), { backends: ['cpu', backend], tol: 1e-4 });
  });
});
