import * as tf from '@tensorflow/tfjs-core';
import type { Network } from './arch';
import type { NormalizeOptions } from './layers/input-normalization';
import { InputNormalization } from './layers/input-normalization';
import type { ForwardMode, Model, NamedVariable } from './model';

/** The Model built by `createModel`: a registry architecture's network plus its variables and normalisation. */
export class LayeredModel implements Model {
  readonly inputShape: readonly [number, number, number];
  readonly flattenedInputs?: Readonly<Record<string, readonly [number, number, number]>>;
  private readonly normalization: InputNormalization | null;
  private disposed = false;

  constructor(
    readonly arch: string,
    inputShape: [number, number, number],
    readonly numClasses: number,
    private readonly network: Network,
    readonly params: readonly NamedVariable[],
    readonly buffers: readonly NamedVariable[],
    normalize?: NormalizeOptions,
  ) {
    this.inputShape = [inputShape[0], inputShape[1], inputShape[2]];
    this.normalization = normalize ? new InputNormalization(normalize, inputShape[2]) : null;
    if (network.flattenedInputs) this.flattenedInputs = network.flattenedInputs;
  }

  forward(x: tf.Tensor4D, mode: ForwardMode): tf.Tensor2D {
    if (this.disposed) throw new Error(`${this.arch}: forward called after dispose()`);
    const [h, w, c] = this.inputShape;
    if (x.rank !== 4 || x.shape[1] !== h || x.shape[2] !== w || x.shape[3] !== c) {
      throw new Error(`${this.arch}: expected input [batch, ${h}, ${w}, ${c}], got [${x.shape.join(', ')}]`);
    }
    return tf.tidy(() => {
      const input = this.normalization === null ? x : this.normalization.apply(x);
      return this.network.forward(input, mode);
    });
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const { variable } of [...this.params, ...this.buffers]) variable.dispose();
    this.normalization?.dispose();
  }
}
