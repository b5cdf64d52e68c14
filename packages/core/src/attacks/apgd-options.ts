import { EVAL_MODE, type ForwardMode } from '../models/model';
import type { Rng } from '../rng';
import type { AttackProgress, Norm } from './attack';
import { NORMS } from './geometries';

/** Options shared by APGD-CE / APGD-DLR and APGD-T. */
export interface ApgdCommonOptions {
  /** Threat model. @defaultValue 'linf' */
  norm?: Norm;
  /** Radius of the ball, in pixel units. Required. */
  eps: number;
  /** Iterations per run. @defaultValue 100 (AutoAttack's standard version) */
  steps?: number;
  /** Runs from new random starts, on the samples not yet fooled. @defaultValue 1 */
  restarts?: number;
  /** ρ: a checkpoint halves the step size if fewer than ρ of the steps since the last one improved. @defaultValue 0.75 */
  rho?: number;
  /** Start from a random point of the sphere (the reference) or from x ('clean', deterministic). @defaultValue true */
  randomStart?: boolean;
  /** Forward mode while attacking; never one that updates statistics. @defaultValue EVAL_MODE */
  mode?: ForwardMode;
  /** Source of the random starts. */
  rng?: Rng;
  /** Progress in iterations (of restarts × steps, times the target classes for APGD-T). */
  onProgress?: AttackProgress;
}

export interface ResolvedApgdOptions {
  norm: Norm;
  eps: number;
  steps: number;
  restarts: number;
  rho: number;
  randomStart: boolean;
  mode: ForwardMode;
  rng?: Rng;
  onProgress?: AttackProgress;
}

export const APGD_DEFAULT_STEPS = 100;
export const APGD_DEFAULT_RHO = 0.75;

/** Fills the defaults and throws an Error naming the first bad value. */
export function resolveApgdOptions(name: string, o: ApgdCommonOptions): ResolvedApgdOptions {
  const fail = (message: string): never => {
    throw new Error(`${name}: ${message}`);
  };
  const norm = o.norm ?? 'linf';
  if (!NORMS.includes(norm)) fail(`unknown norm '${norm}'; known: ${NORMS.join(', ')}`);
  if (typeof o.eps !== 'number' || !Number.isFinite(o.eps) || o.eps <= 0)
    fail(`eps must be a finite number > 0, got ${o.eps}`);
  const steps = o.steps ?? APGD_DEFAULT_STEPS;
  if (!Number.isInteger(steps) || steps < 1) fail(`steps must be an integer ≥ 1, got ${steps}`);
  const restarts = o.restarts ?? 1;
  if (!Number.isInteger(restarts) || restarts < 1) fail(`restarts must be an integer ≥ 1, got ${restarts}`);
  const rho = o.rho ?? APGD_DEFAULT_RHO;
  if (!(rho > 0 && rho < 1)) fail(`rho must be in (0, 1), got ${rho}`);
  const randomStart = o.randomStart ?? true;
  if (randomStart && !o.rng) fail('randomStart needs an rng');
  const mode = o.mode ?? EVAL_MODE;
  if (mode.updateStats)
    fail('mode.updateStats must not be set: an attack never updates batch-norm statistics');
  return { norm, eps: o.eps, steps, restarts, rho, randomStart, mode, rng: o.rng, onProgress: o.onProgress };
}
