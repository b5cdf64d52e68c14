import { labelRowsOf, parseRunConfig, partnersOf, studentsOf, teacherPlan } from '@mat/core';

describe('teacherPlan (who distils from whom at a step)', () => {
  it('without peerSample every peer learns from all others', () => {
    const plan = teacherPlan(parseRunConfig({ seed: 1, peers: 3 }), 5);
    expect(plan.teachers).toEqual([
      [1, 2],
      [0, 2],
      [0, 1],
    ]);
    expect(studentsOf(plan, 0)).toEqual([1, 2]);
    expect(partnersOf(plan, 1)).toEqual([0, 2]);
    expect(labelRowsOf(plan, 2)).toEqual([0, 1, 2]);
  });

  it('with peerSample k draws k distinct other peers, the same for the same (seed, step) only', () => {
    const config = parseRunConfig({ seed: 3, peers: 8, method: { peerSample: 3 } });
    const plans = Array.from({ length: 50 }, (_, step) => teacherPlan(config, step));
    for (const plan of plans) {
      plan.teachers.forEach((t, i) => {
        expect(t).toHaveLength(3);
        expect(new Set(t).size).toBe(3);
        expect(t).not.toContain(i);
        expect([...t].sort((a, b) => a - b)).toEqual(t);
      });
    }
    expect(teacherPlan(config, 7)).toEqual(plans[7]);
    expect(new Set(plans.map((p) => JSON.stringify(p.teachers))).size).toBeGreaterThan(40);
    const otherSeed = teacherPlan({ ...config, seed: 4 }, 7);
    expect(otherSeed).not.toEqual(plans[7]);
  });

  it('draws every other peer about equally often (k/(N-1) of the steps)', () => {
    const config = parseRunConfig({ seed: 9, peers: 5, method: { peerSample: 2 } });
    const counts = Array.from({ length: 5 }, () => new Array<number>(5).fill(0));
    const steps = 2000;
    for (let step = 0; step < steps; step++)
      teacherPlan(config, step).teachers.forEach((t, i) => t.forEach((j) => counts[i][j]++));
    for (let i = 0; i < 5; i++)
      for (let j = 0; j < 5; j++) {
        if (i === j) expect(counts[i][j]).toBe(0);
        // Expected 2000 * 2/4 = 1000; binomial sd ~ 22, so ±100 fails only on a real bias.
        else expect(Math.abs(counts[i][j] - 1000)).toBeLessThan(100);
      }
  });

  it('partners, students and label rows follow from the teachers', () => {
    const plan = { teachers: [[1], [2], [1], [0]] };
    expect(studentsOf(plan, 1)).toEqual([0, 2]);
    expect(studentsOf(plan, 3)).toEqual([]);
    expect(partnersOf(plan, 1)).toEqual([0, 2]);
    expect(partnersOf(plan, 0)).toEqual([1, 3]);
    expect(partnersOf(plan, 3)).toEqual([0]);
    expect(labelRowsOf(plan, 1)).toEqual([0, 1, 2]);
    expect(labelRowsOf(plan, 3)).toEqual([]);
    expect(labelRowsOf(plan, 0)).toEqual([0, 3]);
  });
});
