import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { Rng, type ForwardMode, type Model, type NamedVariable } from '@mat/core';

/**
 * Small hand-written models implementing Model, for attack and loss tests that must not depend on the
 * real architectures. Weights come from the seeded Rng.
 */

type Shape3 = readonly [number, number, number];

function randomVariable(name: string, shape: number[], std: number, rng: Rng): NamedVariable {
  const size = shape.reduce((a, b) => a * b, 1);
  return {
    name,
    variable: tf.variable(tf.tensor(rng.fillNormal(new Float32Array(size), 0, std), shape), true),
  };
}

function zerosVariable(name: string, shape: number[]): NamedVariable {
  return { name, variable: tf.variable(tf.zeros(shape), true) };
}

abstract class TinyModel implements Model {
  readonly buffers: readonly NamedVariable[] = [];
  constructor(
    readonly arch: string,
    readonly inputShape: Shape3,
    readonly numClasses: number,
    readonly params: readonly NamedVariable[],
  ) {}
  abstract forward(x: tf.Tensor4D, mode: ForwardMode): tf.Tensor2D;
  protected v(i: number): tf.Variable {
    return this.params[i].variable;
  }
  dispose(): void {
    for (const p of this.params) p.variable.dispose();
  }
}

/** logits = flatten(x)·W + b. */
export class SoftmaxRegression extends TinyModel {
  constructor(inputShape: Shape3, numClasses: number, seed: number) {
    const dim = inputShape[0] * inputShape[1] * inputShape[2];
    const rng = new Rng(seed);
    super('tiny-softmax', inputShape, numClasses, [
      randomVariable('dense.kernel', [dim, numClasses], 1 / Math.sqrt(dim), rng),
      zerosVariable('dense.bias', [numClasses]),
    ]);
  }
  forward(x: tf.Tensor4D, _mode?: ForwardMode): tf.Tensor2D {
    return tf.tidy(() => tf.add(tf.matMul(tf.reshape(x, [x.shape[0], -1]), this.v(0)), this.v(1)));
  }
}

/** logits = relu(flatten(x)·W1 + b1)·W2 + b2. */
export class TinyMlp extends TinyModel {
  constructor(inputShape: Shape3, numClasses: number, hidden: number, seed: number) {
    const dim = inputShape[0] * inputShape[1] * inputShape[2];
    const rng = new Rng(seed);
    super('tiny-mlp', inputShape, numClasses, [
      randomVariable('fc1.kernel', [dim, hidden], Math.sqrt(2 / dim), rng),
      zerosVariable('fc1.bias', [hidden]),
      randomVariable('fc2.kernel', [hidden, numClasses], Math.sqrt(1 / hidden), rng),
      zerosVariable('fc2.bias', [numClasses]),
    ]);
  }
  forward(x: tf.Tensor4D, _mode?: ForwardMode): tf.Tensor2D {
    return tf.tidy(() => {
      const h = tf.relu(tf.add(tf.matMul(tf.reshape(x, [x.shape[0], -1]), this.v(0)), this.v(1)));
      return tf.add(tf.matMul(h, this.v(2)), this.v(3));
    });
  }
}

/** conv3×3 (same padding) → relu → 2×2 average pool → dense. */
export class TinyConvNet extends TinyModel {
  constructor(inputShape: Shape3, numClasses: number, filters: number, seed: number) {
    const [h, w, c] = inputShape;
    const rng = new Rng(seed);
    const flat = Math.floor(h / 2) * Math.floor(w / 2) * filters;
    super('tiny-conv', inputShape, numClasses, [
      randomVariable('conv.kernel', [3, 3, c, filters], Math.sqrt(2 / (9 * c)), rng),
      zerosVariable('conv.bias', [filters]),
      randomVariable('dense.kernel', [flat, numClasses], Math.sqrt(1 / flat), rng),
      zerosVariable('dense.bias', [numClasses]),
    ]);
  }
  forward(x: tf.Tensor4D, _mode?: ForwardMode): tf.Tensor2D {
    return tf.tidy(() => {
      const conv = tf.relu(tf.add(tf.conv2d(x, this.v(0) as tf.Tensor4D, 1, 'same'), this.v(1)));
      const pooled = tf.avgPool(conv as tf.Tensor4D, 2, 2, 'valid');
      return tf.add(tf.matMul(tf.reshape(pooled, [x.shape[0], -1]), this.v(2)), this.v(3));
    });
  }
}

/**
 * dense → batch norm → relu → dense, with running mean/variance as buffers. Training mode normalises with
 * the batch statistics and, with `updateStats`, folds them into the buffers (momentum 0.1, as PyTorch).
 */
export class TinyBatchNormNet extends TinyModel {
  override readonly buffers: readonly NamedVariable[];
  constructor(inputShape: Shape3, numClasses: number, hidden: number, seed: number) {
    const dim = inputShape[0] * inputShape[1] * inputShape[2];
    const rng = new Rng(seed);
    super('tiny-bn', inputShape, numClasses, [
      randomVariable('fc1.kernel', [dim, hidden], Math.sqrt(2 / dim), rng),
      randomVariable('fc2.kernel', [hidden, numClasses], Math.sqrt(1 / hidden), rng),
      zerosVariable('fc2.bias', [numClasses]),
    ]);
    this.buffers = [
      { name: 'bn.running_mean', variable: tf.variable(tf.zeros([hidden]), false) },
      { name: 'bn.running_var', variable: tf.variable(tf.ones([hidden]), false) },
    ];
  }
  forward(x: tf.Tensor4D, mode: ForwardMode): tf.Tensor2D {
    return tf.tidy(() => {
      const h = tf.matMul(tf.reshape(x, [x.shape[0], -1]), this.v(0));
      const [runningMean, runningVar] = this.buffers.map((b) => b.variable);
      let mean: tf.Tensor = runningMean;
      let variance: tf.Tensor = runningVar;
      if (mode.training) {
        const moments = tf.moments(h, 0);
        mean = moments.mean;
        variance = moments.variance;
        if (mode.updateStats) {
          runningMean.assign(tf.add(tf.mul(0.9, runningMean), tf.mul(0.1, mean)));
          runningVar.assign(tf.add(tf.mul(0.9, runningVar), tf.mul(0.1, variance)));
        }
      }
      const normalised = tf.div(tf.sub(h, mean), tf.sqrt(tf.add(variance, 1e-5)));
      return tf.add(tf.matMul(tf.relu(normalised), this.v(1)), this.v(2));
    });
  }
  override dispose(): void {
    super.dispose();
    for (const b of this.buffers) b.variable.dispose();
  }
}

/** Wraps a model and records the ForwardMode of every forward call. */
export class RecordingModel implements Model {
  readonly modes: ForwardMode[] = [];
  constructor(private readonly inner: Model) {}
  get arch(): string {
    return this.inner.arch;
  }
  get inputShape(): Shape3 {
    return this.inner.inputShape;
  }
  get numClasses(): number {
    return this.inner.numClasses;
  }
  get params(): readonly NamedVariable[] {
    return this.inner.params;
  }
  get buffers(): readonly NamedVariable[] {
    return this.inner.buffers;
  }
  forward(x: tf.Tensor4D, mode: ForwardMode): tf.Tensor2D {
    this.modes.push({ ...mode });
    return this.inner.forward(x, mode);
  }
  dispose(): void {
    this.inner.dispose();
  }
}

/** Uniform images in [0, 1] and labels from the Rng. */
export function randomBatch(
  shape: [number, number, number, number],
  numClasses: number,
  seed: number,
): { x: tf.Tensor4D; y: tf.Tensor1D } {
  const rng = new Rng(seed);
  const size = shape.reduce((a, b) => a * b, 1);
  const x = tf.tensor4d(rng.fillUniform(new Float32Array(size)), shape);
  const y = tf.tensor1d(
    Array.from({ length: shape[0] }, () => rng.int(numClasses)),
    'int32',
  );
  return { x, y };
}

/** Snapshot of every parameter's values, to check that nothing changed. */
export function snapshotParams(model: Model): Float32Array[] {
  return model.params.map((p) => p.variable.dataSync().slice() as Float32Array);
}
