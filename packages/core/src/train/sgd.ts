import * as tf from '@tensorflow/tfjs-core';
import type { NamedVariable } from '../models/model';

export interface SgdOptions {
  momentum: number;
  weightDecay: number;
  nesterov: boolean;
}

/**
 * SGD with momentum and (coupled) weight decay, with PyTorch's `torch.optim.SGD` semantics
 * (dampening 0), so that runs can be compared step for step:
 *
 *   g  = ∇w + weightDecay · w
 *   b  = momentum · b + g            (b starts at 0, so the first step gives b = g)
 *   d  = nesterov ? g + momentum · b : b
 *   w ← w − lr · d
 *
 * The momentum buffers are part of the checkpoint (`state()` / `loadState()`).
 */
export class Sgd {
  private readonly buffers: Map<string, tf.Variable>;

  constructor(
    private readonly params: readonly NamedVariable[],
    readonly options: SgdOptions,
  ) {
    this.buffers = new Map(
      params.map(({ name, variable }) => [
        name,
        tf.variable(tf.zerosLike(variable), false, `${variable.name}/momentum`),
      ]),
    );
  }

  /** Applies one update; `grads` maps parameter names to gradients (as from tf.variableGrads). */
  step(grads: Record<string, tf.Tensor>, lr: number): void {
    const { momentum, weightDecay, nesterov } = this.options;
    tf.tidy(() => {
      for (const { name, variable } of this.params) {
        const grad = grads[name];
        if (!grad) throw new Error(`Sgd.step: no gradient for parameter ${name}`);
        const buffer = this.buffers.get(name)!;
        const g = weightDecay !== 0 ? tf.add(grad, tf.mul(variable, weightDecay)) : grad;
        const b = momentum !== 0 ? tf.add(tf.mul(buffer, momentum), g) : g;
        if (momentum !== 0) buffer.assign(b);
        const direction = nesterov ? tf.add(g, tf.mul(b, momentum)) : b;
        variable.assign(tf.sub(variable, tf.mul(direction, lr)));
      }
    });
  }

  /** Momentum buffers by parameter name. */
  state(): NamedVariable[] {
    return this.params.map(({ name }) => ({ name, variable: this.buffers.get(name)! }));
  }

  loadState(values: Map<string, { shape: number[]; data: Float32Array }>): void {
    for (const { name, variable } of this.params) {
      const v = values.get(name);
      if (!v) throw new Error(`optimizer state has no momentum buffer for ${name}`);
      if (v.shape.join(',') !== variable.shape.join(',')) {
        throw new Error(
          `optimizer state for ${name} has shape [${v.shape}], the parameter has [${variable.shape}]`,
        );
      }
    }
    for (const { name } of this.params) {
      const v = values.get(name)!;
      const buffer = this.buffers.get(name)!;
      tf.tidy(() => buffer.assign(tf.tensor(v.data, v.shape, 'float32')));
    }
  }

  dispose(): void {
    for (const b of this.buffers.values()) b.dispose();
  }
}
