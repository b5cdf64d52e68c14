/**
 * Euclidean projections onto the l1 ball, in plain float64 JavaScript (exact, backend-independent).
 *
 * The attack needs the projection onto the intersection of the l1 ball and the pixel box,
 *
 *   P(v) = argmin_δ ½‖δ − v‖₂²  s.t.  ‖δ‖₁ ≤ r,  lo ≤ δ ≤ hi      (lo = −x ≤ 0 ≤ hi = 1 − x),
 *
 * and computes it exactly rather than as "l1 projection, then clip". The problem is separable except for
 * the one l1 constraint, so with its multiplier θ ≥ 0 each coordinate solves a 1-D convex problem whose
 * minimiser is the box clip of the soft threshold:
 *
 *   δ_i(θ) = sign(v_i) · min(max(|v_i| − θ, 0), c_i),   c_i = hi_i if v_i ≥ 0 else −lo_i.
 *
 * If θ = 0 is feasible (‖clip(v)‖₁ ≤ r) that is the answer; otherwise θ solves g(θ) = Σ_i |δ_i(θ)| = r.
 * g is continuous, piecewise linear and non-increasing, with breakpoints at |v_i| (coordinate i becomes
 * non-zero below it) and |v_i| − c_i (coordinate i stops being capped above it). Sweeping the sorted
 * breakpoints from the top finds θ exactly, in O(n log n) — Duchi et al. (2008), "Efficient projections
 * onto the l1-ball for learning in high dimensions", Fig. 1, extended with the per-coordinate caps.
 * Without caps (c_i = ∞) it is exactly Duchi et al.'s algorithm.
 */

/** Projection of v onto {δ : ‖δ‖₁ ≤ radius} (Duchi et al. 2008). Returns a new array. */
export function projectOntoL1Ball(v: ArrayLike<number>, radius: number): Float64Array {
  const inf = new Float64Array(v.length).fill(Infinity);
  return projectOntoL1BallInBox(
    v,
    radius,
    inf.map((x) => -x),
    inf,
  );
}

/**
 * Projection of v onto {δ : ‖δ‖₁ ≤ radius, lo ≤ δ ≤ hi}; needs lo_i ≤ 0 ≤ hi_i (the box contains 0,
 * as it does for δ = x' − x with x in the box). Returns a new array.
 */
export function projectOntoL1BallInBox(
  v: ArrayLike<number>,
  radius: number,
  lo: ArrayLike<number>,
  hi: ArrayLike<number>,
): Float64Array {
  const n = v.length;
  if (lo.length !== n || hi.length !== n)
    throw new Error(`l1 projection: v, lo, hi lengths differ (${n}, ${lo.length}, ${hi.length})`);
  if (!(radius >= 0)) throw new Error(`l1 projection: radius must be ≥ 0, got ${radius}`);
  const abs = new Float64Array(n);
  const cap = new Float64Array(n);
  let clippedNorm = 0;
  for (let i = 0; i < n; i++) {
    if (!(lo[i] <= 0 && hi[i] >= 0))
      throw new Error(`l1 projection: box [${lo[i]}, ${hi[i]}] at ${i} does not contain 0`);
    abs[i] = Math.abs(v[i]);
    cap[i] = v[i] >= 0 ? hi[i] : -lo[i];
    clippedNorm += Math.min(abs[i], cap[i]);
  }
  const theta = clippedNorm <= radius ? 0 : thresholdFor(abs, cap, radius);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const magnitude = Math.min(Math.max(abs[i] - theta, 0), cap[i]);
    out[i] = v[i] >= 0 ? magnitude : -magnitude;
  }
  return out;
}

/** θ > 0 with Σ_i min(max(a_i − θ, 0), c_i) = radius, given that the sum at θ = 0 exceeds radius. */
function thresholdFor(abs: Float64Array, cap: Float64Array, radius: number): number {
  // Events, swept from large θ to small: at θ = a_i coordinate i starts growing (slope +1 as θ falls),
  // at θ = a_i − c_i it hits its cap and stops growing (slope −1).
  const at: number[] = [];
  const delta: number[] = [];
  for (let i = 0; i < abs.length; i++) {
    if (abs[i] === 0 || cap[i] === 0) continue; // never moves
    at.push(abs[i]);
    delta.push(+1);
    const saturates = abs[i] - cap[i];
    if (saturates > 0) {
      at.push(saturates);
      delta.push(-1);
    }
  }
  const order = at.map((_, k) => k).sort((p, q) => at[q] - at[p]);
  let theta = at[order[0]];
  let sum = 0; // g(theta)
  let slope = 0; // number of coordinates strictly between their two events
  for (const k of order) {
    const next = at[k];
    const sumAtNext = sum + slope * (theta - next);
    if (slope > 0 && sumAtNext >= radius) return theta - (radius - sum) / slope;
    sum = sumAtNext;
    theta = next;
    slope += delta[k];
  }
  // Below the last event the slope stays constant down to θ = 0, where the sum exceeds the radius.
  return slope > 0 ? Math.max(theta - (radius - sum) / slope, 0) : theta;
}

/**
 * Nearest float32 to x + δ that is not farther from x than x + δ, so a float32 x' = x + δ keeps
 * |x'_i − x_i| ≤ |δ_i| and hence ‖x' − x‖₁ ≤ ‖δ‖₁ exactly (plain rounding could add up to n·2⁻²⁵).
 */
export function roundTowards(x: number, delta: number): number {
  const target = x + delta;
  const rounded = Math.fround(target);
  if (Math.abs(rounded - x) <= Math.abs(delta)) return rounded;
  return nextFloat32Towards(rounded, x);
}

const f32 = new Float32Array(1);
const i32 = new Int32Array(f32.buffer);

/** The adjacent float32 of a float32 `value`, one ulp in the direction of `towards`. */
function nextFloat32Towards(value: number, towards: number): number {
  if (value === towards) return value;
  f32[0] = value;
  if (value === 0) {
    i32[0] = 1;
    return towards > 0 ? f32[0] : -f32[0];
  }
  // For IEEE floats, stepping the integer representation by one moves one ulp away from / towards zero.
  const awayFromZero = towards > value === value > 0;
  i32[0] += awayFromZero ? 1 : -1;
  return f32[0];
}
