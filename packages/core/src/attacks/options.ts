import { EVAL_MODE, type ForwardMode } from '../models/model';
import type { Rng } from '../rng';
import { ATTACK_LOSSES, type AttackLoss } from './attack-loss';

/** Options shared by every PGD attack (torchattacks-style named defaults). */
export interface PgdOptions {
  /** Radius of the threat model, ‖x' − x‖_p ≤ eps, in pixel units (inputs are in [0, 1]). Required. */
  eps: number;
  /**
   * Size of one step, measured in the attack's norm.
   * @defaultValue 2.5 · eps / steps (Madry et al. 2018: enough to cross the ball and back)
   */
  stepSize?: number;
  /** Number of gradient steps. @defaultValue 10 */
  steps?: number;
  /**
   * Start from a random point of the ball instead of x. With loss `trades-kl` the start is TRADES'
   * x + 0.001·N(0, 1) instead, and it is required (the KL gradient is exactly zero at x' = x).
   * @defaultValue true
   */
  randomStart?: boolean;
  /** Independent runs; per sample the first misclassified one, else the one of highest loss, is kept. @defaultValue 1 */
  restarts?: number;
  /** The objective to maximise. @defaultValue 'ce' */
  loss?: AttackLoss;
  /**
   * How the model's forward pass runs while crafting. `updateStats` is not allowed: crafting must never
   * change the model, and folding adversarial batches (one per step) into batch-norm running statistics
   * would do exactly that. The default eval mode also makes each sample's attack independent of the
   * rest of the batch, as in the TRADES and MAT reference code (`model.eval()` before attacking).
   * @defaultValue EVAL_MODE
   */
  mode?: ForwardMode;
  /** Source of all random starts; the same seed gives the same examples on every backend. */
  rng: Rng;
}

/** PgdOptions with every default filled in and checked. */
export interface ResolvedAttackOptions {
  eps: number;
  stepSize: number;
  steps: number;
  randomStart: boolean;
  restarts: number;
  loss: AttackLoss;
  mode: ForwardMode;
  rng?: Rng;
}

export const DEFAULT_STEPS = 10;
/** Madry et al.'s rule of thumb: stepSize = 2.5 · eps / steps. */
export const DEFAULT_STEP_SIZE_FACTOR = 2.5;

/** Fills defaults and throws an Error naming the first bad value. */
export function resolveOptions(
  attack: string,
  options: Partial<PgdOptions>,
  defaults: { steps: number; randomStart: boolean; stepSize: (eps: number, steps: number) => number },
): ResolvedAttackOptions {
  const fail = (message: string): never => {
    throw new Error(`${attack}: ${message}`);
  };
  const { eps } = options;
  if (typeof eps !== 'number' || !Number.isFinite(eps) || eps <= 0)
    fail(`eps must be a finite number > 0, got ${eps}`);
  const steps = options.steps ?? defaults.steps;
  if (!Number.isInteger(steps) || steps < 1) fail(`steps must be an integer ≥ 1, got ${steps}`);
  const stepSize = options.stepSize ?? defaults.stepSize(eps as number, steps);
  if (!Number.isFinite(stepSize) || stepSize <= 0)
    fail(`stepSize must be a finite number > 0, got ${stepSize}`);
  const restarts = options.restarts ?? 1;
  if (!Number.isInteger(restarts) || restarts < 1) fail(`restarts must be an integer ≥ 1, got ${restarts}`);
  const randomStart = options.randomStart ?? defaults.randomStart;
  if (typeof randomStart !== 'boolean') fail(`randomStart must be true or false, got ${randomStart}`);
  const loss = options.loss ?? 'ce';
  if (!ATTACK_LOSSES.includes(loss)) fail(`unknown loss '${loss}'; known: ${ATTACK_LOSSES.join(', ')}`);
  if (loss === 'trades-kl' && !randomStart) {
    fail("loss 'trades-kl' needs randomStart: the KL gradient is exactly zero at x' = x");
  }
  const mode = options.mode ?? EVAL_MODE;
  if (mode.updateStats)
    fail('mode.updateStats must not be set: an attack never updates batch-norm statistics');
  if (randomStart && !options.rng) fail('randomStart needs an rng');
  return { eps: eps as number, stepSize, steps, randomStart, restarts, loss, mode, rng: options.rng };
}

export function defaultPgdStepSize(eps: number, steps: number): number {
  return (DEFAULT_STEP_SIZE_FACTOR * eps) / steps;
}

/** Checks the SLIDE sparsity percentile q ∈ (0, 100). */
export function checkSparsityQuantile(attack: string, q: number): number {
  if (!Number.isFinite(q) || q <= 0 || q >= 100) {
    throw new Error(`${attack}: l1 sparsity quantile must be in (0, 100) (a percentile), got ${q}`);
  }
  return q;
}
