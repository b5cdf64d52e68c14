import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

/**
 * UnsortedSegmentSum for the wasm backend (absent in tfjs-backend-wasm 4.22). tf.gather's gradient
 * scatters dy back with it, so without it no gradient flows through a gather on wasm.
 *
 *   out[s, …] = Σ_{i : segmentIds[i] = s} x[i, …],   out has shape [numSegments, …x.shape[rank(segmentIds):]]
 *
 * Ids outside [0, numSegments) are dropped, as in TensorFlow. Runs in JS directly over the wasm heap and
 * accumulates in float64, so the sums do not depend on the order of the ids.
 */
const unsortedSegmentSum: tf.KernelFunc = (args) => {
  const { x, segmentIds } = args.inputs as { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
  const { numSegments } = args.attrs as unknown as tf.UnsortedSegmentSumAttrs;
  const backend = args.backend as BackendWasm;
  if (!Number.isInteger(numSegments) || numSegments < 0) {
    throw new Error(`UnsortedSegmentSum: numSegments must be a non-negative integer, got ${numSegments}`);
  }
  const idsRank = segmentIds.shape.length;
  if (!tf.util.arraysEqual(segmentIds.shape, x.shape.slice(0, idsRank))) {
    throw new Error(
      `UnsortedSegmentSum: segmentIds shape [${segmentIds.shape}] must be a prefix of x shape [${x.shape}]`,
    );
  }
  const outShape = [numSegments, ...x.shape.slice(idsRank)];
  const rowSize = tf.util.sizeFromShape(x.shape.slice(idsRank));

  // Allocate first: makeOutput may grow the wasm memory, which detaches views taken before it.
  const out = backend.makeOutput(outShape, x.dtype);
  const xValues = backend.typedArrayFromHeap(x);
  const ids = backend.typedArrayFromHeap(segmentIds);
  const sums = new Float64Array(numSegments * rowSize);
  for (let i = 0; i < ids.length; i++) {
    const segment = ids[i];
    if (segment < 0 || segment >= numSegments) continue;
    const from = i * rowSize;
    const to = segment * rowSize;
    for (let j = 0; j < rowSize; j++) sums[to + j] += xValues[from + j];
  }
  backend.typedArrayFromHeap(out).set(sums);
  return out;
};

export const unsortedSegmentSumConfig: tf.KernelConfig = {
  kernelName: tf.UnsortedSegmentSum,
  backendName: 'wasm',
  kernelFunc: unsortedSegmentSum,
};
