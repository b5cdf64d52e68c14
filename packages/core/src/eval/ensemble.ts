import * as tf from '@tensorflow/tfjs-core';
import type { ForwardMode, Model, NamedVariable } from '../models/model';

/**
 * The peers' ensemble as one Model: the average of their logits,
 *
 *   f_ens(x) = (1/N) Σ_i f_i(x).
 *
 * Attacks see it as any other model (white-box: gradients flow through every member). It does not own its
 * members: `dispose()` leaves them alone. Parameters and buffers are the members', prefixed `peer<i>.`.
 */
export class EnsembleModel implements Model {
  readonly arch: string;
  readonly inputShape: readonly [number, number, number];
  readonly numClasses: number;
  readonly params: readonly NamedVariable[];
  readonly buffers: readonly NamedVariable[];

  constructor(readonly members: readonly Model[]) {
    if (members.length === 0) throw new Error('ensemble: needs at least one model');
    const [first] = members;
    members.forEach((m, i) => {
      if (m.inputShape.join() !== first.inputShape.join() || m.numClasses !== first.numClasses) {
        throw new Error(
          `ensemble: model ${i} takes [${m.inputShape}] → ${m.numClasses} classes, ` +
            `model 0 takes [${first.inputShape}] → ${first.numClasses}`,
        );
      }
    });
    this.arch = `ensemble(${members.map((m) => m.arch).join(',')})`;
    this.inputShape = first.inputShape;
    this.numClasses = first.numClasses;
    const prefixed = (list: (m: Model) => readonly NamedVariable[]) =>
      members.flatMap((m, i) => list(m).map((p) => ({ name: `peer${i}.${p.name}`, variable: p.variable })));
    this.params = prefixed((m) => m.params);
    this.buffers = prefixed((m) => m.buffers);
  }

  forward(x: tf.Tensor4D, mode: ForwardMode): tf.Tensor2D {
    return tf.tidy(() => tf.div(tf.addN(this.members.map((m) => m.forward(x, mode))), this.members.length));
  }

  /** Does nothing: the members belong to the caller. */
  dispose(): void {}
}
