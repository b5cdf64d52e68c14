import type { Initializer } from './params';

/**
 * Weight initialisers. Each architecture initialises as its PyTorch reference code does (docs/models.md):
 * - PyTorch's defaults (fmnist-cnn, PreActResNet-18, ResNet-18, and dense layers everywhere): nn.Conv2d and
 *   nn.Linear draw weight and bias from U(−1/√fan_in, 1/√fan_in) — `kaiming_uniform_(a=√5)` reduces to exactly
 *   this bound, and the bias uses the same one; fan_in = kh·kw·in for a convolution, in for a dense layer.
 * - the TRADES/MART Wide-ResNet: convolutions Kaiming-normal, fan_out mode, ReLU gain, N(0, 2 / (kh·kw·out))
 *   (`normal_(0, sqrt(2 / (k·k·out_channels)))`), and zero dense biases.
 * - batch norm: scale 1, shift 0, running mean 0, running variance 1 (PyTorch defaults, and what TRADES sets).
 * Kernels are stored in tfjs layouts: conv [kh, kw, in, out], dense [in, out].
 */

function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Kaiming-normal, fan_out, gain √2, for a conv kernel [kh, kw, in, out]. */
export const kaimingNormalFanOut: Initializer = (shape, rng) => {
  if (shape.length !== 4) throw new Error(`kaimingNormalFanOut expects a conv kernel [kh, kw, in, out]`);
  const fanOut = shape[0] * shape[1] * shape[3];
  return rng.fillNormal(new Float32Array(size(shape)), 0, Math.sqrt(2 / fanOut));
};

/** U(−1/√fanIn, 1/√fanIn): PyTorch's default for nn.Conv2d and nn.Linear weights and biases. */
export function uniformFanIn(fanIn: number): Initializer {
  if (!(fanIn > 0)) throw new Error(`uniformFanIn: fan_in must be positive, got ${fanIn}`);
  const bound = 1 / Math.sqrt(fanIn);
  return (shape, rng) => rng.fillUniform(new Float32Array(size(shape)), -bound, bound);
}

export function constantInit(value: number): Initializer {
  return (shape) => new Float32Array(size(shape)).fill(value);
}

export const zerosInit: Initializer = constantInit(0);
export const onesInit: Initializer = constantInit(1);
