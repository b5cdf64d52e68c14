/**
 * Learning-rate schedules as pure functions of the step, so a resumed run gets exactly the same rates.
 * `progress` = step / totalSteps in [0, 1).
 */
export type LrSchedule =
  | { type: 'constant' }
  /** lr · gamma^k after the k-th milestone; milestones are fractions of the run (e.g. [0.5, 0.75]). */
  | { type: 'piecewise'; milestones: number[]; gamma: number }
  /** Cosine annealing from lr to 0, after an optional linear warm-up (fraction of the run). */
  | { type: 'cosine'; warmup?: number };

export function learningRateAt(
  baseLr: number,
  schedule: LrSchedule,
  step: number,
  totalSteps: number,
): number {
  if (totalSteps <= 0) throw new Error(`learningRateAt: totalSteps must be positive, got ${totalSteps}`);
  const progress = Math.min(Math.max(step / totalSteps, 0), 1);
  switch (schedule.type) {
    case 'constant':
      return baseLr;
    case 'piecewise': {
      const passed = schedule.milestones.filter((m) => progress >= m).length;
      return baseLr * Math.pow(schedule.gamma, passed);
    }
    case 'cosine': {
      const warmup = schedule.warmup ?? 0;
      if (warmup > 0 && progress < warmup) return (baseLr * (step + 1)) / (warmup * totalSteps);
      const t = warmup >= 1 ? 1 : (progress - warmup) / (1 - warmup);
      return 0.5 * baseLr * (1 + Math.cos(Math.PI * t));
    }
  }
}
