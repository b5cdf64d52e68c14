import * as tf from '@tensorflow/tfjs-core';
import { NativeBackend } from './native-backend';

const OVERRIDDEN = Symbol.for('@mat/native gradient override');

type GradFunc = tf.GradConfig['gradFunc'];

/**
 * Replaces the registered gradient of `kernelName` with one that runs `nativeGrad` while a native backend
 * is active and tfjs's own gradient otherwise (so other backends compute exactly what they did);
 * `nativeGrad` may also return null for a case it does not cover. The gradient registry is global, so this
 * wraps whatever gradient is registered now; without one (tfjs gradients not loaded yet) it does nothing.
 * Idempotent.
 */
export function overrideGradientOnNative(
  kernelName: string,
  nativeGrad: (...args: Parameters<GradFunc>) => ReturnType<GradFunc> | null,
): void {
  const original = tf.getGradient(kernelName);
  if (!original || (original as unknown as Record<symbol, boolean>)[OVERRIDDEN]) return;
  const wrapped: tf.GradConfig & Record<symbol, boolean> = {
    ...original,
    gradFunc: (dy, saved, attrs) =>
      (tf.backend() instanceof NativeBackend ? nativeGrad(dy, saved, attrs) : null) ??
      original.gradFunc(dy, saved, attrs),
    [OVERRIDDEN]: true,
  };
  tf.unregisterGradient(kernelName);
  tf.registerGradient(wrapped);
}
