import * as tf from '@tensorflow/tfjs-core';

/**
 * The geometry of a Conv2DBackpropFilter call (both MAT replacements of that kernel, cpu and wasm, start
 * here). NHWC only, as everywhere in MAT: any other layout is an error naming the backend.
 */
export function filterGradientInfo(args: Parameters<tf.KernelFunc>[0], backendName: string) {
  const { x } = args.inputs as { x: tf.TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } =
    args.attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filterShape,
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    tf.backend_util.convertConv2DDataFormat(dataFormat),
  );
  if (info.dataFormat !== 'channelsLast') {
    throw new Error(
      `MAT's ${backendName} Conv2DBackpropFilter supports NHWC only, got dataFormat ${dataFormat}`,
    );
  }
  return info;
}
