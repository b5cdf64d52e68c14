import * as tf from '@tensorflow/tfjs-core';

/**
 * Gradient of TopK (tfjs 4.22 registers none, so a loss through `tf.topk(x).values` could not be
 * differentiated on any backend). The values are a selection of x, so dy flows back to the selected
 * positions and everything else gets zero:
 *
 *   dx[r, indices[r, j]] = dValues[r, j]   for every row r (all leading dims flattened) and j < k.
 *
 * Implemented with scatterND over flat positions r·n + indices[r, j], a kernel every backend has.
 */
export const topKGradConfig: tf.GradConfig = {
  kernelName: tf.TopK,
  inputsToSave: ['x'],
  outputsToSave: [false, true],
  gradFunc: (dy, saved) => {
    const [x, indices] = saved;
    // The indices output is integer-valued and carries no gradient; the engine passes null for an unused output.
    const dValues = Array.isArray(dy) ? dy[0] : dy;
    return {
      x: () =>
        tf.tidy(() => {
          if (dValues == null) return tf.zerosLike(x);
          const n = x.shape[x.rank - 1];
          const k = indices.shape[indices.rank - 1];
          const rows = x.size / n;
          const rowStarts = tf.mul(tf.range(0, rows, 1, 'int32'), tf.scalar(n, 'int32'));
          const flatPositions = tf.add(tf.reshape(indices, [rows, k]), tf.reshape(rowStarts, [rows, 1]));
          const scattered = tf.scatterND(
            tf.reshape(flatPositions, [rows * k, 1]),
            tf.reshape(dValues, [rows * k]),
            [rows * n],
          );
          return tf.reshape(scattered, x.shape);
        }),
    };
  },
};
