import * as tf from '@tensorflow/tfjs-core';

/**
 * Runs another kernel of the same backend from inside a kernel, the way tfjs's own composite kernels do.
 * Going through the registry (not `tf.*` ops) keeps the call off the engine's tape and scopes, so the
 * caller owns the result and must release it with `release` once it is no longer needed.
 */
export function callKernel(
  kernelName: string,
  backend: tf.KernelBackend,
  backendName: string,
  inputs: tf.NamedTensorInfoMap,
  attrs: tf.NamedAttrMap = {},
): tf.TensorInfo {
  const config = tf.getKernel(kernelName, backendName) as tf.KernelConfig | undefined;
  if (config == null) {
    throw new Error(`kernel ${kernelName} is not registered for backend '${backendName}'`);
  }
  const output = config.kernelFunc({ inputs, attrs, backend });
  if (Array.isArray(output)) {
    throw new Error(`kernel ${kernelName} returned ${output.length} outputs where one was expected`);
  }
  return output;
}

/** Drops this kernel's reference to an intermediate result (the data lives on while other tensors share it). */
export function release(backend: tf.KernelBackend, ...infos: tf.TensorInfo[]): void {
  for (const info of infos) backend.disposeData(info.dataId);
}
