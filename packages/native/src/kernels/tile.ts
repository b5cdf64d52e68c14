import * as tf from '@tensorflow/tfjs-core';
import { alloc, f32, output, sizeOf, type Inputs, type NativeKernel } from './util';

/** Tile by block copies (the batch-norm gradient tiles a per-channel vector to the whole activation). */
export const tileKernel: NativeKernel = {
  kernelName: tf.Tile,
  run({ inputs, attrs }, backend, addon) {
    const { x } = inputs as Inputs<'x'>;
    const { reps } = attrs as unknown as tf.TileAttrs;
    const xv = f32(backend, x);
    if (!xv || x.shape.length > 8 || reps.length !== x.shape.length) return null;
    const outShape = x.shape.map((d, i) => d * reps[i]);
    const out = alloc(backend, sizeOf(outShape));
    addon.tile(xv, out, Int32Array.from(x.shape), Int32Array.from(reps));
    return output(backend, outShape, out);
  },
};
