import * as tf from '@tensorflow/tfjs-core';
import { EVAL_MODE, type ForwardMode, type Model } from '../models/model';
import type { Rng } from '../rng';
import type { Attack, AttackProgress, Norm } from './attack';
import { checkAttackInputs, correctMask, indicesWhere, writeRows } from './input-checks';
import { squareFraction, squarePattern, transposed } from './square-patterns';

export interface SquareOptions {
  /** Threat model: 'linf' or 'l2' (the attack is not defined for l1). @defaultValue 'linf' */
  norm?: Norm;
  /** Radius of the ball, in pixel units. Required. */
  eps: number;
  /** Queries (iterations) per run. @defaultValue 1000 (the reference uses 5000; CPUs are slow) */
  queries?: number;
  /** Initial fraction of the image a square covers. @defaultValue 0.8 */
  pInit?: number;
  /** Runs from new random starts, on the samples not yet fooled. @defaultValue 1 */
  restarts?: number;
  /** Forward mode of the queries. @defaultValue EVAL_MODE */
  mode?: ForwardMode;
  /** Source of every random choice (squares, positions, signs). Required. */
  rng: Rng;
  onProgress?: AttackProgress;
}

export const SQUARE_DEFAULT_QUERIES = 1000;
export const SQUARE_DEFAULT_P_INIT = 0.8;

/**
 * Square Attack — Andriushchenko, Croce, Flammarion & Hein (2020), "Square Attack: a query-efficient
 * black-box adversarial attack via random search", https://arxiv.org/abs/1912.00049, following
 * fra31/auto-attack square.py. Score-based: it only reads the logits, never a gradient, so it is not fooled
 * by gradient masking. It minimises the margin m(x') = z_y − max_{j≠y} z_j by random search:
 *
 * - l∞: start from vertical stripes x + eps·σ (σ = ±1 per column and channel); each query moves a random
 *   s×s window to a vertex of the ball, x'_window = x + eps·σ_c (one σ per channel), clipped to the box.
 * - l2: start from a grid of ±square patterns; each query moves the l2 mass of a second window into a
 *   new ±pattern on the first, staying on the sphere ‖x' − x‖₂ = eps (before the box clip).
 *
 * A candidate replaces the current point when it lowers the margin; a sample stops once misclassified.
 * The side s shrinks with the query budget (`squareFraction`). As the paper's Algorithm 1, the windows
 * and signs are drawn per image (the reference draws one window per batch).
 *
 * @example new Square({ eps: 0.1, queries: 1000, rng: new Rng(1) }).attack(model, x, y)
 */
export class Square implements Attack {
  readonly name: string;
  readonly norm: Norm;
  readonly eps: number;
  readonly queries: number;
  readonly pInit: number;
  readonly restarts: number;
  private readonly mode: ForwardMode;

  constructor(private readonly options: SquareOptions) {
    const norm = options.norm ?? 'linf';
    this.name = `square-${norm}`;
    const fail = (message: string): never => {
      throw new Error(`${this.name}: ${message}`);
    };
    if (norm !== 'linf' && norm !== 'l2') fail(`the Square attack is defined for linf and l2, not '${norm}'`);
    if (typeof options.eps !== 'number' || !Number.isFinite(options.eps) || options.eps <= 0)
      fail(`eps must be a finite number > 0, got ${options.eps}`);
    const queries = options.queries ?? SQUARE_DEFAULT_QUERIES;
    if (!Number.isInteger(queries) || queries < 1) fail(`queries must be an integer ≥ 1, got ${queries}`);
    const pInit = options.pInit ?? SQUARE_DEFAULT_P_INIT;
    if (!(pInit > 0 && pInit <= 1)) fail(`pInit must be in (0, 1], got ${pInit}`);
    const restarts = options.restarts ?? 1;
    if (!Number.isInteger(restarts) || restarts < 1) fail(`restarts must be an integer ≥ 1, got ${restarts}`);
    if (!options.rng) fail('needs an rng');
    const mode = options.mode ?? EVAL_MODE;
    if (mode.updateStats)
      fail('mode.updateStats must not be set: an attack never updates batch-norm statistics');
    this.norm = norm;
    this.eps = options.eps;
    this.queries = queries;
    this.pInit = pInit;
    this.restarts = restarts;
    this.mode = mode;
  }

  attack(model: Model, x: tf.Tensor4D, y: tf.Tensor1D): tf.Tensor4D {
    checkAttackInputs(this.name, model, x, y);
    const [batch, h, w, c] = x.shape;
    const dim = h * w * c;
    const clean = x.dataSync() as Float32Array;
    const labels = Int32Array.from(y.dataSync());
    const result = Float32Array.from(clean);
    const robust = correctMask(model, x, y, this.mode);
    const total = this.restarts * this.queries;
    let done = 0;
    for (let r = 0; r < this.restarts; r++) {
      const indices = indicesWhere(robust);
      if (indices.length === 0) break;
      const xs = new Float32Array(indices.length * dim);
      indices.forEach((sample, k) => xs.set(clean.subarray(sample * dim, (sample + 1) * dim), k * dim));
      const ys = Int32Array.from(indices, (sample) => labels[sample]);
      const run = this.run(model, xs, ys, [h, w, c], () => this.options.onProgress?.(++done, total));
      writeRows(result, run.xBest, indices, dim, () => true);
      indices.forEach((sample, k) => {
        if (run.margin[k] <= 0) robust[sample] = 0;
      });
    }
    this.options.onProgress?.(total, total);
    return tf.tensor4d(result, [batch, h, w, c]);
  }

  /** One random-search run on n images (flat NHWC rows); returns the best points and their margins. */
  private run(
    model: Model,
    x: Float32Array,
    y: Int32Array,
    shape: [number, number, number],
    onQuery: () => void,
  ): { xBest: Float32Array; margin: Float32Array } {
    const [h, w, c] = shape;
    const dim = h * w * c;
    const n = y.length;
    const xBest = this.norm === 'linf' ? this.stripesStart(x, n, shape) : this.gridStart(x, n, shape);
    const margin = this.margins(model, xBest, y, shape);
    for (let i = 0; i < this.queries; i++) {
      const active = indicesWhere(Uint8Array.from(margin, (m) => (m > 0 ? 1 : 0)));
      if (active.length === 0) break;
      const p = squareFraction(i, this.queries, this.pInit);
      const candidates = new Float32Array(active.length * dim);
      active.forEach((b, k) => {
        const current = xBest.subarray(b * dim, (b + 1) * dim);
        const original = x.subarray(b * dim, (b + 1) * dim);
        const out = candidates.subarray(k * dim, (k + 1) * dim);
        if (this.norm === 'linf') this.linfCandidate(original, current, out, shape, p);
        else this.l2Candidate(original, current, out, shape, p);
      });
      const newMargin = this.margins(
        model,
        candidates,
        Int32Array.from(active, (b) => y[b]),
        shape,
      );
      active.forEach((b, k) => {
        if (newMargin[k] < margin[b]) {
          margin[b] = newMargin[k];
          xBest.set(candidates.subarray(k * dim, (k + 1) * dim), b * dim);
        }
      });
      onQuery();
    }
    return { xBest, margin };
  }

  /** m = z_y − max_{j≠y} z_j for each image (≤ 0: misclassified). */
  private margins(
    model: Model,
    xs: Float32Array,
    y: Int32Array,
    shape: [number, number, number],
  ): Float32Array {
    const t = tf.tidy(() => {
      const logits = model.forward(tf.tensor4d(xs, [y.length, ...shape]), this.mode);
      const oneHot = tf.oneHot(tf.tensor1d(y, 'int32'), logits.shape[1]);
      const own = tf.sum(tf.mul(oneHot, logits), 1);
      const others = tf.max(tf.sub(logits, tf.mul(oneHot, 1e9)), 1);
      return tf.sub(own, others);
    });
    const out = Float32Array.from(t.dataSync());
    t.dispose();
    return out;
  }

  private sign(): number {
    return this.options.rng.uniform() < 0.5 ? -1 : 1;
  }

  /** Side of the square for fraction p: round(√(p·h·w)), at least `min` (l2: odd), at most the image side. */
  private side(p: number, h: number, w: number, min: number, odd: boolean): number {
    let s = Math.max(Math.round(Math.sqrt(p * h * w)), min);
    if (odd && s % 2 === 0) s++;
    return Math.min(s, h, w);
  }

  private position(extent: number, s: number): number {
    return extent - s > 0 ? this.options.rng.int(extent - s) : 0;
  }

  /** l∞ start: x + eps·σ with σ = ±1 per (image, column, channel), clipped to the box. */
  private stripesStart(x: Float32Array, n: number, [h, w, c]: [number, number, number]): Float32Array {
    const out = new Float32Array(x.length);
    const dim = h * w * c;
    for (let b = 0; b < n; b++) {
      const signs = Array.from({ length: w * c }, () => this.sign());
      for (let r = 0; r < h; r++) {
        for (let col = 0; col < w; col++) {
          for (let ch = 0; ch < c; ch++) {
            const i = b * dim + (r * w + col) * c + ch;
            out[i] = clip01(x[i] + this.eps * signs[col * c + ch]);
          }
        }
      }
    }
    return out;
  }

  /** l∞ query: a random s×s window moved to x + eps·σ_c (one sign per channel), clipped to the box. */
  private linfCandidate(
    x: Float32Array,
    current: Float32Array,
    out: Float32Array,
    [h, w, c]: [number, number, number],
    p: number,
  ): void {
    out.set(current);
    const s = this.side(p, h, w, 1, false);
    const top = this.position(h, s);
    const left = this.position(w, s);
    const signs = Array.from({ length: c }, () => this.sign());
    const eps = this.eps;
    for (let r = top; r < top + s; r++) {
      for (let col = left; col < left + s; col++) {
        for (let ch = 0; ch < c; ch++) {
          const i = (r * w + col) * c + ch;
          const moved = current[i] + 2 * eps * signs[ch];
          out[i] = clip01(Math.min(Math.max(moved, x[i] - eps), x[i] + eps));
        }
      }
    }
  }

  /** ±pattern for one window, transposed with probability ½. */
  private pattern(s: number): Float64Array {
    const base = squarePattern(s);
    return this.options.rng.uniform() > 0.5 ? transposed(base, s) : base;
  }

  /** l2 start: a grid of ±patterns (side ⌊h/5⌋, one sign per image and channel) scaled to norm eps. */
  private gridStart(x: Float32Array, n: number, [h, w, c]: [number, number, number]): Float32Array {
    const dim = h * w * c;
    const out = new Float32Array(x.length);
    const s = Math.max(Math.floor(h / 5), 1);
    const offset = Math.max(Math.floor((h - 5 * s) / 2), 0);
    for (let b = 0; b < n; b++) {
      const delta = new Float64Array(dim);
      for (let top = offset, bi = 0; bi < Math.floor(h / s); bi++, top += s) {
        for (let left = offset, bj = 0; bj < Math.floor(w / s); bj++, left += s) {
          const pattern = this.pattern(s);
          const signs = Array.from({ length: c }, () => this.sign());
          addWindow(delta, pattern, signs, top, left, s, [h, w, c]);
        }
      }
      scaleOntoSphere(
        x.subarray(b * dim, (b + 1) * dim),
        delta,
        this.eps,
        out.subarray(b * dim, (b + 1) * dim),
      );
    }
    return out;
  }

  /**
   * l2 query (square.py, norm 'L2'): with δ = x_best − x, take a new window W1 and a window W2; the new
   * content of W1 (per channel) is the ±pattern plus W1's old direction, rescaled so that it carries W1 ∪ W2's
   * old l2 mass plus the budget left to the sphere; W2 is emptied. Finally δ is rescaled to norm eps.
   */
  private l2Candidate(
    x: Float32Array,
    current: Float32Array,
    out: Float32Array,
    [h, w, c]: [number, number, number],
    p: number,
  ): void {
    const dim = h * w * c;
    const delta = new Float64Array(dim);
    for (let i = 0; i < dim; i++) delta[i] = current[i] - x[i];
    const s = this.side(p, h, w, 3, true);
    const [top1, left1] = [this.position(h, s), this.position(w, s)];
    const [top2, left2] = [this.position(h, s), this.position(w, s)];
    const inWindow = (r: number, col: number, top: number, left: number) =>
      r >= top && r < top + s && col >= left && col < left + s;

    const windowNorm1 = new Float64Array(c);
    let imageSq = 0;
    let windowsSq = 0;
    for (let r = 0; r < h; r++) {
      for (let col = 0; col < w; col++) {
        const in1 = inWindow(r, col, top1, left1);
        const in2 = inWindow(r, col, top2, left2);
        for (let ch = 0; ch < c; ch++) {
          const d = delta[(r * w + col) * c + ch];
          imageSq += d * d;
          if (in1) windowNorm1[ch] += d * d;
          if (in1 || in2) windowsSq += d * d;
        }
      }
    }
    const pattern = this.pattern(s);
    const budget = Math.sqrt(Math.max(this.eps * this.eps - imageSq, 0) / c + windowsSq);
    const fresh = new Float64Array(s * s * c);
    for (let ch = 0; ch < c; ch++) {
      const sign = this.sign();
      const oldNorm = Math.sqrt(windowNorm1[ch]) + 1e-12;
      let sq = 0;
      for (let r = 0; r < s; r++) {
        for (let col = 0; col < s; col++) {
          const v = pattern[r * s + col] * sign + delta[((top1 + r) * w + left1 + col) * c + ch] / oldNorm;
          fresh[(r * s + col) * c + ch] = v;
          sq += v * v;
        }
      }
      const scale = budget / (Math.sqrt(sq) + 1e-12);
      for (let r = 0; r < s; r++) for (let col = 0; col < s; col++) fresh[(r * s + col) * c + ch] *= scale;
    }
    for (let r = top2; r < top2 + s; r++) {
      for (let col = left2; col < left2 + s; col++)
        for (let ch = 0; ch < c; ch++) delta[(r * w + col) * c + ch] = 0;
    }
    for (let r = 0; r < s; r++) {
      for (let col = 0; col < s; col++) {
        for (let ch = 0; ch < c; ch++)
          delta[((top1 + r) * w + left1 + col) * c + ch] = fresh[(r * s + col) * c + ch];
      }
    }
    scaleOntoSphere(x, delta, this.eps, out);
  }
}

function clip01(v: number): number {
  return v < 0 ? 0 : v > 1 ? 1 : v;
}

/** delta[window] += pattern·sign_c for each channel, cropped to the image. */
function addWindow(
  delta: Float64Array,
  pattern: Float64Array,
  signs: number[],
  top: number,
  left: number,
  s: number,
  [h, w, c]: [number, number, number],
): void {
  for (let r = 0; r < s && top + r < h; r++) {
    for (let col = 0; col < s && left + col < w; col++) {
      for (let ch = 0; ch < c; ch++)
        delta[((top + r) * w + left + col) * c + ch] += pattern[r * s + col] * signs[ch];
    }
  }
}

/**
 * out = clip_[0,1](x + eps·δ/‖δ‖₂), the float32 result pulled back inside the ball if rounding pushed it
 * out (clipping itself only shrinks |δ_i|, since x is in the box).
 */
function scaleOntoSphere(x: Float32Array, delta: Float64Array, eps: number, out: Float32Array): void {
  let sq = 0;
  for (const d of delta) sq += d * d;
  const scale = eps / (Math.sqrt(sq) + 1e-12);
  for (let i = 0; i < x.length; i++) out[i] = clip01(x[i] + delta[i] * scale);
  let outSq = 0;
  for (let i = 0; i < x.length; i++) outSq += (out[i] - x[i]) * (out[i] - x[i]);
  if (Math.sqrt(outSq) > eps) {
    const shrink = eps / Math.sqrt(outSq) - 1e-7;
    for (let i = 0; i < x.length; i++) out[i] = clip01(x[i] + (out[i] - x[i]) * shrink);
  }
}
