import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

/**
 * Sign for the wasm backend, replacing the built-in one. tfjs-backend-wasm 4.22's C++ kernel returns 0 for
 * every |x| < FLT_EPSILON (≈ 1.19e-7), not only for x = 0. The l_inf and l_1 attacks step along sign(∇x), and
 * input gradients of a confident model are often that small, so on wasm those pixels never moved: PGD-10
 * disagreed with PyTorch and with the cpu and native backends on 1.25 % of the pixels of a test batch.
 *
 *   sign(x) = −1 for x < 0,  +1 for x > 0,  0 otherwise (±0 and NaN)
 *
 * Exactly the cpu backend's rule (and the native backend's), subnormals included. Runs in JS over the wasm
 * heap; Sign has no gradient of its own (tfjs gives it a zero gradient), so nothing else changes.
 */
const sign: tf.KernelFunc = (args) => {
  const { x } = args.inputs as { x: tf.TensorInfo };
  const backend = args.backend as BackendWasm;
  // Allocate first: makeOutput may grow the wasm memory, which detaches views taken before it.
  const out = backend.makeOutput(x.shape, x.dtype);
  const values = backend.typedArrayFromHeap(x);
  const result = backend.typedArrayFromHeap(out);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    result[i] = v > 0 ? 1 : v < 0 ? -1 : 0;
  }
  return out;
};

export const signConfig: tf.KernelConfig = {
  kernelName: tf.Sign,
  backendName: 'wasm',
  kernelFunc: sign,
};
