import { Rng, mixSeed } from '@mat/core';

describe('Rng', () => {
  it('is reproducible by seed and differs across seeds', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const c = new Rng(43);
    const sa = Array.from({ length: 5 }, () => a.nextUint32());
    expect(Array.from({ length: 5 }, () => b.nextUint32())).toEqual(sa);
    expect(Array.from({ length: 5 }, () => c.nextUint32())).not.toEqual(sa);
  });

  it('resumes the same stream from a saved state', () => {
    const a = new Rng(7);
    for (let i = 0; i < 10; i++) a.uniform();
    const saved = a.getState();
    const expected = Array.from({ length: 5 }, () => a.uniform());
    expect(Array.from({ length: 5 }, () => new Rng(saved).uniform())).toHaveLength(5);
    const b = new Rng(saved);
    expect(Array.from({ length: 5 }, () => b.uniform())).toEqual(expected);
  });

  it('has roughly uniform and normal moments', () => {
    const rng = new Rng(1);
    const u = rng.fillUniform(new Float32Array(20000));
    const n = rng.fillNormal(new Float32Array(20000));
    const mean = (v: Float32Array) => v.reduce((s, x) => s + x, 0) / v.length;
    expect(mean(u)).toBeCloseTo(0.5, 1);
    expect(mean(n)).toBeCloseTo(0, 1);
    expect(mean(n.map((x) => x * x))).toBeCloseTo(1, 1);
  });

  it('permutes without losing elements and rejects bad input', () => {
    const p = Array.from(new Rng(3).permutation(100)).sort((x, y) => x - y);
    expect(p).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(() => new Rng(1).int(0)).toThrow(/positive integer/);
    expect(() => new Rng([0, 0, 0, 0])).toThrow(/all words are zero/);
    expect(mixSeed(1, 2)).not.toEqual(mixSeed(2, 1));
  });
});
