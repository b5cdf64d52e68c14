/**
 * Seeded pseudo-random numbers for everything random in MAT: weight init, data order, augmentation,
 * attack random starts. Numbers are generated in JavaScript (never by a backend's RNG) so the same seed
 * gives the same tensors on every backend, and the state is four uint32 words so that a checkpoint can
 * store it and a resumed run continues the exact same stream.
 *
 * Generator: xoshiro128** (Blackman & Vigna), seeded through splitmix32.
 */

// Local bindings: looking up Math.* on every call is slow in sandboxed contexts (jest's vm).
const { imul, log, cos, sqrt, PI } = Math;

export type RngState = [number, number, number, number];

function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** Hashes a list of integers (e.g. seed, peer index, purpose) to one 32-bit seed. */
export function mixSeed(...parts: number[]): number {
  let h = 0x811c9dc5;
  for (const part of parts) {
    const next = splitmix32(h ^ (part >>> 0))();
    h = imul(next ^ (part >>> 0), 0x01000193) >>> 0;
  }
  return h >>> 0;
}

export class Rng {
  private s: Uint32Array;

  constructor(seed: number | RngState) {
    this.s = new Uint32Array(4);
    if (Array.isArray(seed)) {
      this.setState(seed);
    } else {
      const next = splitmix32(seed);
      for (let i = 0; i < 4; i++) this.s[i] = next();
      if ((this.s[0] | this.s[1] | this.s[2] | this.s[3]) === 0) this.s[0] = 1;
    }
  }

  /** An independent stream for one purpose, e.g. `rng.derive(peerIndex, PURPOSE_ATTACK)`. */
  static derive(seed: number, ...parts: number[]): Rng {
    return new Rng(mixSeed(seed, ...parts));
  }

  getState(): RngState {
    return [this.s[0], this.s[1], this.s[2], this.s[3]];
  }

  setState(state: RngState): void {
    if (state.length !== 4 || state.some((w) => !Number.isInteger(w) || w < 0 || w > 0xffffffff)) {
      throw new Error(`invalid RNG state ${JSON.stringify(state)}: expected four uint32 words`);
    }
    if (state.every((w) => w === 0)) throw new Error('invalid RNG state: all words are zero');
    this.s.set(state);
  }

  /** Next uint32. */
  nextUint32(): number {
    const s = this.s;
    const result = imul(rotl(imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform in [0, 1) with 32 bits of resolution. */
  uniform(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Integer uniform in [0, n). */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0) throw new Error(`Rng.int: n must be a positive integer, got ${n}`);
    // Rejection sampling removes the modulo bias.
    const limit = 4294967296 - (4294967296 % n);
    let v = this.nextUint32();
    while (v >= limit) v = this.nextUint32();
    return v % n;
  }

  /** Standard normal (Box–Muller; one value per call so the stream position is easy to reason about). */
  normal(): number {
    let u = this.uniform();
    while (u <= 0) u = this.uniform();
    const v = this.uniform();
    return sqrt(-2 * log(u)) * cos(2 * PI * v);
  }

  /** Fills with uniform values in [low, high). */
  fillUniform(out: Float32Array, low = 0, high = 1): Float32Array {
    const span = high - low;
    for (let i = 0; i < out.length; i++) out[i] = low + span * this.uniform();
    return out;
  }

  fillNormal(out: Float32Array, mean = 0, std = 1): Float32Array {
    for (let i = 0; i < out.length; i++) out[i] = mean + std * this.normal();
    return out;
  }

  /** Fisher–Yates shuffle in place. */
  shuffle<T extends { length: number; [i: number]: unknown }>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = a[i];
      a[i] = a[j];
      a[j] = tmp;
    }
    return a;
  }

  /** A permutation of 0..n-1. */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    return this.shuffle(p);
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
