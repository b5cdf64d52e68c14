/**
 * Every architecture initialises as its PyTorch reference code does (docs/models.md#initialisation), checked
 * per layer against the reference formula — written out here from the reference code, not taken from the
 * library — by bounds, mean, variance and the Kolmogorov–Smirnov distance to the formula's distribution:
 * - nn.Conv2d / nn.Linear defaults (fmnist-cnn, PreActResNet-18, ResNet-18; every dense layer's weight):
 *   weight and bias ~ U(−1/√fan_in, 1/√fan_in), fan_in = kh·kw·in (conv) or in (dense);
 * - TRADES/MART Wide-ResNet: convolutions ~ N(0, 2 / (kh·kw·out)), fc bias = 0;
 * - batch norm: γ = 1, β = 0, running mean 0, running variance 1.
 * With a fixed seed each check is deterministic; the tolerances (5 standard errors, KS at α = 0.001) are
 * what a correct draw passes and a wrong formula (another scale or family) fails by far.
 */
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { createModel, MODEL_ARCHS, type Model, type ModelOptions } from '@mat/core';

type Rule =
  { kind: 'uniform'; bound: number } | { kind: 'normal'; std: number } | { kind: 'constant'; value: number };

/** fan_in of a tfjs kernel: conv [kh, kw, in, out] → kh·kw·in, dense [in, out] → in. */
function fanIn(kernelShape: readonly number[]): number {
  return kernelShape.length === 4 ? kernelShape[0] * kernelShape[1] * kernelShape[2] : kernelShape[0];
}

const BN_RULES: Record<string, Rule> = {
  gamma: { kind: 'constant', value: 1 },
  beta: { kind: 'constant', value: 0 },
  runningMean: { kind: 'constant', value: 0 },
  runningVar: { kind: 'constant', value: 1 },
};

/** The reference code's rule for one weight, from its name and the shapes of the model's weights. */
function referenceRule(arch: string, name: string, shapes: Map<string, number[]>): Rule {
  const leaf = name.slice(name.lastIndexOf('.') + 1);
  if (leaf in BN_RULES) return BN_RULES[leaf];
  const shape = shapes.get(name) as number[];
  const kernel = shapes.get(name.replace(/\.bias$/, '.kernel')) as number[];
  const pytorchDefault: Rule = { kind: 'uniform', bound: 1 / Math.sqrt(fanIn(kernel)) };
  if (arch !== 'wide-resnet') return pytorchDefault;
  // yaodongyu/TRADES models/wideresnet.py: normal_(0, sqrt(2 / (k·k·out))) for every Conv2d; for nn.Linear
  // only the bias is set (zero).
  if (leaf === 'kernel' && shape.length === 4) {
    return { kind: 'normal', std: Math.sqrt(2 / (shape[0] * shape[1] * shape[3])) };
  }
  if (leaf === 'bias') return { kind: 'constant', value: 0 };
  return pytorchDefault;
}

function erf(x: number): number {
  // Abramowitz & Stegun 7.1.26, |error| < 1.5e-7: far below the KS tolerances used here.
  const t = 1 / (1 + 0.3275911 * Math.abs(x));
  const y =
    1 -
    ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) *
      t *
      Math.exp(-x * x);
  return x >= 0 ? y : -y;
}

function cdf(rule: Rule, x: number): number {
  if (rule.kind === 'uniform') return Math.min(1, Math.max(0, (x + rule.bound) / (2 * rule.bound)));
  if (rule.kind === 'normal') return 0.5 * (1 + erf(x / (rule.std * Math.SQRT2)));
  return x >= rule.value ? 1 : 0;
}

/** Kolmogorov–Smirnov distance sup_x |F_n(x) − F(x)| of the sample to the rule's distribution. */
function ksDistance(values: Float32Array, rule: Rule): number {
  const sorted = Float64Array.from(values).sort();
  const n = sorted.length;
  let d = 0;
  for (let i = 0; i < n; i++) {
    const f = cdf(rule, sorted[i]);
    d = Math.max(d, f - i / n, (i + 1) / n - f);
  }
  return d;
}

const KS_SAMPLE = 50_000;

/** Problems of one weight's values against its rule (empty when it matches). */
function check(name: string, values: Float32Array, rule: Rule): string[] {
  const n = values.length;
  if (rule.kind === 'constant') {
    return values.every((v) => v === rule.value) ? [] : [`${name}: not all ${rule.value}`];
  }
  let sum = 0;
  let sumSq = 0;
  let maxAbs = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    sum += v;
    sumSq += v * v;
    if (v > maxAbs) maxAbs = v;
    else if (-v > maxAbs) maxAbs = -v;
  }
  const mean = sum / n;
  const variance = sumSq / n - mean * mean;
  const problems: string[] = [];
  const fail = (what: string) => problems.push(`${name} (${n} values, ${JSON.stringify(rule)}): ${what}`);
  // σ² of the rule and the standard error of the sample variance, from its fourth moment:
  // uniform: σ² = b²/3, μ₄ = b⁴/5; normal: μ₄ = 3σ⁴.
  const sigma2 = rule.kind === 'uniform' ? rule.bound ** 2 / 3 : rule.std ** 2;
  const mu4 = rule.kind === 'uniform' ? rule.bound ** 4 / 5 : 3 * sigma2 ** 2;
  const meanTol = 5 * Math.sqrt(sigma2 / n);
  const varianceTol = 5 * Math.sqrt((mu4 - sigma2 ** 2) / n);
  if (!(Math.abs(mean) <= meanTol)) fail(`mean ${mean} beyond ±${meanTol}`);
  if (!(Math.abs(variance - sigma2) <= varianceTol))
    fail(`variance ${variance}, expected ${sigma2} ± ${varianceTol}`);
  if (rule.kind === 'uniform') {
    if (!(maxAbs <= rule.bound * (1 + 1e-6))) fail(`|value| ${maxAbs} beyond the bound ${rule.bound}`);
    // The largest |value| of n uniform draws is below b·(1 − 10/n) with probability (1 − 10/n)^n < e^−10.
    if (n >= 20 && !(maxAbs >= rule.bound * (1 - 10 / n)))
      fail(`largest |value| ${maxAbs} far inside the bound`);
  }
  if (n >= 50) {
    // On at most KS_SAMPLE values (every k-th), which keeps the 2.4M-value ResNet layers cheap.
    const stride = Math.ceil(n / KS_SAMPLE);
    const sample = stride === 1 ? values : values.filter((_, i) => i % stride === 0);
    const d = ksDistance(sample, rule);
    const critical = 1.95 / Math.sqrt(sample.length); // α = 0.001
    if (!(d <= critical)) fail(`Kolmogorov–Smirnov distance ${d.toFixed(4)} > ${critical.toFixed(4)}`);
  }
  return problems;
}

/** Instances whose every layer kind is the full model's: the ResNets have fixed widths, WRN-10-2 is small. */
const OPTIONS: Record<string, ModelOptions[]> = {
  'fmnist-cnn': [{ seed: 1 }, { seed: 2 }],
  'preact-resnet18': [{ seed: 1, inputShape: [8, 8, 3] }],
  resnet18: [{ seed: 1, inputShape: [8, 8, 3] }],
  'wide-resnet': [
    { seed: 1, depth: 10, widen: 2 },
    { seed: 2, depth: 16, widen: 1 },
  ],
};

function weightsOf(model: Model): Map<string, Float32Array> {
  return new Map(
    [...model.params, ...model.buffers].map((p) => [p.name, p.variable.dataSync() as Float32Array]),
  );
}

describe('initialisation as in the reference code', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('has a reference rule for every architecture', () => {
    expect([...MODEL_ARCHS].sort()).toEqual(Object.keys(OPTIONS).sort());
  });

  it.each(Object.entries(OPTIONS).flatMap(([arch, list]) => list.map((o) => [arch, o] as const)))(
    '%s %j: every layer follows its formula',
    (arch, options) => {
      const model = createModel(arch, options);
      const weights = weightsOf(model);
      const shapes = new Map([...model.params, ...model.buffers].map((p) => [p.name, p.variable.shape]));
      model.dispose();
      const problems = [...weights].flatMap(([name, values]) =>
        check(name, values, referenceRule(arch, name, shapes)),
      );
      expect(problems).toEqual([]);
    },
  );

  it('fails a layer drawn with another scale or family (the checks can fail)', () => {
    const n = 9 * 32;
    const bound = 1 / 3;
    const draws = (f: (i: number) => number) => Float32Array.from({ length: n }, (_, i) => f(i));
    // Deterministic quasi-uniform samples of the wrong law for U(±1/3): U(±1/6), and N(0, 2/288) (the old
    // Kaiming-normal fan_out draw of fmnist-cnn's conv1).
    const halfScale = draws((i) => (((i + 0.5) / n) * 2 - 1) * (bound / 2));
    expect(check('narrow', halfScale, { kind: 'uniform', bound }).length).toBeGreaterThan(0);
    const wrn = createModel('wide-resnet', { seed: 5, depth: 10, widen: 1 });
    const normal = weightsOf(wrn).get('block1.layer.0.conv1.kernel') as Float32Array; // N(0, 2/(9·16))
    wrn.dispose();
    expect(
      check('normal', normal, { kind: 'uniform', bound: Math.sqrt(3 * (2 / (9 * 16))) }).length,
    ).toBeGreaterThan(0);
    const exact = draws((i) => (((i + 0.5) / n) * 2 - 1) * bound);
    expect(check('exact', exact, { kind: 'uniform', bound })).toEqual([]);
  });

  it('same seed → bit-identical weights for every architecture', () => {
    for (const [arch, [options]] of Object.entries(OPTIONS)) {
      const a = createModel(arch, options);
      const b = createModel(arch, options);
      const [wa, wb] = [weightsOf(a), weightsOf(b)];
      a.dispose();
      b.dispose();
      for (const [name, values] of wa) {
        expect(Buffer.from((wb.get(name) as Float32Array).buffer).equals(Buffer.from(values.buffer))).toBe(
          true,
        );
      }
    }
  });
});
