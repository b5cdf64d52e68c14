/**
 * The l2 Square attack's perturbation pattern (Andriushchenko et al. 2020, Sec. 3.2, Fig. 2), as in
 * fra31/auto-attack square.py `eta`: two concentric-rectangle "bumps" of opposite sign, one in the top
 * half of an s×s window and one in the bottom half, with unit l2 norm. Plain arrays, row-major s×s.
 */

/** Concentric rectangles of an `rows`×`cols` block: ring r (from the centre) adds 1/(r+1)²; unit l2 norm. */
export function rectanglesPattern(rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  if (rows === 0 || cols === 0) return out;
  const centreRow = Math.floor(rows / 2) + 1;
  const centreCol = Math.floor(cols / 2) + 1;
  let top = centreRow - 1;
  let left = centreCol - 1;
  for (let ring = 0; ring < Math.max(centreRow, centreCol); ring++) {
    const weight = 1 / ((ring + 1) * (ring + 1));
    for (let r = Math.max(top, 0); r < Math.min(top + 2 * ring + 1, rows); r++) {
      for (let c = Math.max(left, 0); c < Math.min(left + 2 * ring + 1, cols); c++)
        out[r * cols + c] += weight;
    }
    top--;
    left--;
  }
  return normalised(out);
}

/** The s×s pattern: +rectangles on the top ⌊s/2⌋ rows, −rectangles below; unit l2 norm. */
export function squarePattern(s: number): Float64Array {
  const out = new Float64Array(s * s);
  const half = Math.floor(s / 2);
  out.set(rectanglesPattern(half, s), 0);
  const bottom = rectanglesPattern(s - half, s);
  for (let i = 0; i < bottom.length; i++) out[half * s + i] = -bottom[i];
  return normalised(out);
}

/** The transpose of a row-major s×s pattern. */
export function transposed(pattern: Float64Array, s: number): Float64Array {
  const out = new Float64Array(s * s);
  for (let r = 0; r < s; r++) for (let c = 0; c < s; c++) out[c * s + r] = pattern[r * s + c];
  return out;
}

function normalised(v: Float64Array): Float64Array {
  let sum = 0;
  for (const a of v) sum += a * a;
  const norm = Math.sqrt(sum);
  if (norm > 0) for (let i = 0; i < v.length; i++) v[i] /= norm;
  return v;
}

/**
 * Fraction p of the image a square covers at iteration `i` of `queries` (square.py `p_selection`, with the
 * schedule rescaled to the query budget): p_init, halved at 10, 50, 200, 500, 1000, 2000, 4000, 6000 and
 * 8000 of 10 000 rescaled iterations.
 */
export function squareFraction(i: number, queries: number, pInit: number): number {
  const it = Math.floor((i / queries) * 10000);
  const bounds = [10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000];
  const divisors = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512];
  let k = 0;
  while (k < bounds.length && it > bounds[k]) k++;
  return pInit / divisors[k];
}
