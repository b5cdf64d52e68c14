import { projectOntoL1Ball, projectOntoL1BallInBox, roundTowards, Rng } from '@mat/core';

const l1 = (v: ArrayLike<number>) => Array.from(v).reduce((s, a) => s + Math.abs(a), 0);
const dot = (a: ArrayLike<number>, b: ArrayLike<number>) =>
  Array.from(a).reduce((s, ai, i) => s + ai * b[i], 0);
const sub = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a, (ai, i) => ai - b[i]);

/**
 * Independent checks. p = Π_C(v) iff p ∈ C and ⟨v − p, z − p⟩ ≤ 0 for all z ∈ C. That inequality is
 * linear in z, so for the l1 ball it suffices to check the 2n vertices ±r·e_i: a complete certificate.
 */
function isL1BallProjection(v: number[], p: ArrayLike<number>, r: number): boolean {
  if (l1(p) > r + 1e-9) return false;
  const residual = sub(v, p);
  const base = dot(residual, p);
  // ⟨res, ±r e_i⟩ − ⟨res, p⟩ ≤ 0  ⇔  r·|res_i| ≤ ⟨res, p⟩
  return residual.every((ri) => r * Math.abs(ri) <= base + 1e-9);
}

/** Dykstra's alternating projections onto the l1 ball and the box: converges to Π onto the intersection. */
function dykstra(v: number[], r: number, lo: number[], hi: number[], iterations = 4000): number[] {
  let x = v.slice();
  let p = v.map(() => 0);
  let q = v.map(() => 0);
  for (let k = 0; k < iterations; k++) {
    const y = Array.from(
      projectOntoL1Ball(
        x.map((xi, i) => xi + p[i]),
        r,
      ),
    );
    p = x.map((xi, i) => xi + p[i] - y[i]);
    const next = y.map((yi, i) => Math.min(Math.max(yi + q[i], lo[i]), hi[i]));
    q = y.map((yi, i) => yi + q[i] - next[i]);
    x = next;
  }
  return x;
}

describe('projectOntoL1Ball (Duchi et al. 2008)', () => {
  it('satisfies the vertex optimality certificate on random inputs', () => {
    const rng = new Rng(1);
    for (let trial = 0; trial < 200; trial++) {
      const n = 1 + rng.int(12);
      const v = Array.from({ length: n }, () => 3 * rng.normal());
      const r = 0.05 + 4 * rng.uniform();
      const p = projectOntoL1Ball(v, r);
      expect(isL1BallProjection(v, p, r)).toBe(true);
      if (l1(v) > r) expect(l1(p)).toBeCloseTo(r, 9);
    }
  });

  it('leaves points inside the ball alone and matches a hand-worked case', () => {
    expect(Array.from(projectOntoL1Ball([0.2, -0.3], 1))).toEqual([0.2, -0.3]);
    // v = (3, 1, −0.5), r = 2: θ = 1 → (2, 0, 0); θ check: Σ max(|v_i| − 1, 0) = 2 + 0 + 0 = 2.
    expect(Array.from(projectOntoL1Ball([3, 1, -0.5], 2))).toEqual([2, 0, -0]);
    // v = (2, −2, 0.1), r = 2: θ = 1 → (1, −1, 0).
    const p = projectOntoL1Ball([2, -2, 0.1], 2);
    expect(Array.from(p).map((a) => +a.toFixed(12))).toEqual([1, -1, 0]);
  });
});

describe('projectOntoL1BallInBox (exact projection onto l1 ball ∩ box)', () => {
  it('matches Dykstra alternating projections', () => {
    const rng = new Rng(2);
    for (let trial = 0; trial < 25; trial++) {
      const n = 2 + rng.int(7);
      const x = Array.from({ length: n }, () => (rng.uniform() < 0.2 ? rng.int(2) : rng.uniform()));
      const lo = x.map((xi) => -xi);
      const hi = x.map((xi) => 1 - xi);
      const v = Array.from({ length: n }, () => 1.2 * rng.normal());
      const r = 0.1 + 1.5 * rng.uniform();
      const exact = Array.from(projectOntoL1BallInBox(v, r, lo, hi));
      const reference = dykstra(v, r, lo, hi);
      exact.forEach((e, i) => expect(e).toBeCloseTo(reference[i], 6));
      expect(l1(exact)).toBeLessThanOrEqual(r + 1e-12);
      exact.forEach((e, i) => {
        expect(e).toBeGreaterThanOrEqual(lo[i]);
        expect(e).toBeLessThanOrEqual(hi[i]);
      });
    }
  });

  it('beats "l1 projection, then clip" when a coordinate is blocked by the box', () => {
    // x = (1, 0.5): coordinate 0 cannot grow (hi = 0). v = (2, 1), r = 1.5.
    const lo = [-1, -0.5];
    const hi = [0, 0.5];
    const exact = Array.from(projectOntoL1BallInBox([2, 1], 1.5, lo, hi));
    const naive = Array.from(projectOntoL1Ball([2, 1], 1.5)).map((d, i) =>
      Math.min(Math.max(d, lo[i]), hi[i]),
    );
    // Exact: coordinate 0 is capped at 0, so all of the budget goes to coordinate 1, capped at 0.5.
    expect(exact).toEqual([0, 0.5]);
    // Naive: l1 projection (1.25, 0.25), clipped to (0, 0.25): feasible but farther from v.
    expect(naive).toEqual([0, 0.25]);
  });

  it('rejects a box that does not contain 0', () => {
    expect(() => projectOntoL1BallInBox([1], 1, [0.1], [1])).toThrow(/does not contain 0/);
  });
});

describe('roundTowards', () => {
  it('never rounds a float32 x + δ away from x', () => {
    const rng = new Rng(3);
    const bad: number[][] = [];
    for (let i = 0; i < 20000; i++) {
      const x = Math.fround(rng.uniform());
      const delta = (rng.uniform() - 0.5) * 1e-3 * Math.min(x, 1 - x);
      const r = roundTowards(x, delta);
      const ok =
        Math.fround(r) === r && Math.abs(r - x) <= Math.abs(delta) && Math.abs(r - (x + delta)) < 2 ** -22;
      if (!ok) bad.push([x, delta, r]);
    }
    expect(bad).toEqual([]);
  });
});
