import type { Rng } from '../rng';
import type { Attack, AttackProgress, Norm } from './attack';
import { ATTACK_LOSSES, type AttackLoss } from './attack-loss';
import { Apgd } from './apgd';
import { ApgdTargeted } from './apgd-t';
import { CwPgd } from './cw';
import { Fgsm } from './fgsm';
import { NORMS } from './geometries';
import { PgdL1 } from './pgd-l1';
import { PgdL2 } from './pgd-l2';
import { PgdLinf } from './pgd-linf';
import { Square, SQUARE_DEFAULT_QUERIES } from './square';

/**
 * Every attack by name. `fgsm` and `pgd` craft training examples; the others are for evaluation:
 * `cw` (PGD on the CW margin), `apgd-ce` / `apgd-dlr` / `apgd-t` (Auto-PGD, untargeted CE / DLR and
 * targeted DLR), `square` (gradient-free random search).
 */
export const ATTACK_NAMES = ['fgsm', 'pgd', 'cw', 'apgd-ce', 'apgd-dlr', 'apgd-t', 'square'] as const;
export type AttackName = (typeof ATTACK_NAMES)[number];

/** The norms each attack is defined for. */
export const ATTACK_NORMS: Readonly<Record<AttackName, readonly Norm[]>> = {
  fgsm: NORMS,
  pgd: NORMS,
  cw: NORMS,
  'apgd-ce': NORMS,
  'apgd-dlr': NORMS,
  'apgd-t': NORMS,
  square: ['linf', 'l2'],
};

/** A serialisable description of an attack (what configs and the CLI hold). */
export interface AttackSpec {
  name: AttackName;
  norm: Norm;
  eps: number;
  /** pgd, cw, fgsm only. @defaultValue pgd/cw: 2.5·eps/steps; fgsm: eps (1.25·eps with randomStart) */
  stepSize?: number;
  /**
   * Iterations: pgd/cw (default 10), apgd-* (default 100), square (queries, default 1000). fgsm is one
   * step; giving it anything but 1 is an error.
   */
  steps?: number;
  /** @defaultValue pgd/cw/apgd: true; fgsm: false. Not for square. */
  randomStart?: boolean;
  /** @defaultValue 1 */
  restarts?: number;
  /** pgd and fgsm only (cw always maximises the CW margin). @defaultValue 'ce' */
  loss?: AttackLoss;
  /** SLIDE percentile for norm 'l1' (pgd, cw, fgsm). @defaultValue 99 */
  l1SparsityQuantile?: number;
  /** apgd-t: number of target classes. @defaultValue 9 (capped at classes − 1) */
  targetClasses?: number;
  /** square: initial fraction of the image a square covers. @defaultValue 0.8 */
  pInit?: number;
}

/** Options of a spec that only some attacks take, and who takes them. */
const ONLY_FOR: Partial<Record<keyof AttackSpec, readonly AttackName[]>> = {
  stepSize: ['pgd', 'cw', 'fgsm'],
  randomStart: ['pgd', 'cw', 'fgsm', 'apgd-ce', 'apgd-dlr', 'apgd-t'],
  loss: ['pgd', 'fgsm'],
  l1SparsityQuantile: ['pgd', 'cw', 'fgsm'],
  targetClasses: ['apgd-t'],
  pInit: ['square'],
};

/**
 * Builds the attack a spec describes, drawing its random choices from `rng`. Throws an Error naming the
 * problem for an unknown name, norm or loss, an option the attack does not take, or a bad value (eps ≤ 0,
 * steps < 1, …). The forward mode is the attacks' default, eval mode. `onProgress` is called by the
 * iterative evaluation attacks (apgd-*, square) after every iteration.
 */
export function createAttack(
  spec: AttackSpec,
  rng: Rng,
  hooks: { onProgress?: AttackProgress } = {},
): Attack {
  if (!(ATTACK_NAMES as readonly string[]).includes(spec.name)) {
    throw new Error(`unknown attack '${spec.name}'; known: ${ATTACK_NAMES.join(', ')}`);
  }
  if (!NORMS.includes(spec.norm))
    throw new Error(`${spec.name}: unknown norm '${spec.norm}'; known: ${NORMS.join(', ')}`);
  if (!ATTACK_NORMS[spec.name].includes(spec.norm)) {
    throw new Error(
      `${spec.name}: not defined for norm '${spec.norm}'; it supports ${ATTACK_NORMS[spec.name].join(', ')}`,
    );
  }
  for (const [option, names] of Object.entries(ONLY_FOR) as [keyof AttackSpec, readonly AttackName[]][]) {
    if (spec[option] !== undefined && !names.includes(spec.name)) {
      throw new Error(`${spec.name}: does not take option '${option}' (only ${names.join(', ')} do)`);
    }
  }
  if (spec.loss !== undefined && !ATTACK_LOSSES.includes(spec.loss)) {
    throw new Error(`${spec.name}: unknown loss '${spec.loss}'; known: ${ATTACK_LOSSES.join(', ')}`);
  }
  if (spec.l1SparsityQuantile !== undefined && spec.norm !== 'l1') {
    throw new Error(`${spec.name}: l1SparsityQuantile applies to norm 'l1' only, not '${spec.norm}'`);
  }
  const { norm, eps, steps, restarts, randomStart } = spec;
  const { onProgress } = hooks;
  switch (spec.name) {
    case 'fgsm':
      if (steps !== undefined && steps !== 1) {
        throw new Error(`fgsm: takes exactly one step, got steps = ${steps} (use name 'pgd' to iterate)`);
      }
      return new Fgsm({ ...gradientCommon(spec, rng), norm, sparsityQuantile: spec.l1SparsityQuantile });
    case 'pgd': {
      const pgd = { ...gradientCommon(spec, rng), steps };
      if (norm === 'linf') return new PgdLinf(pgd);
      if (norm === 'l2') return new PgdL2(pgd);
      return new PgdL1({ ...pgd, sparsityQuantile: spec.l1SparsityQuantile });
    }
    case 'cw': {
      const { loss: _loss, ...common } = gradientCommon(spec, rng);
      return new CwPgd({ ...common, norm, steps, sparsityQuantile: spec.l1SparsityQuantile });
    }
    case 'apgd-ce':
    case 'apgd-dlr': {
      const loss = spec.name === 'apgd-ce' ? 'ce' : 'dlr';
      return new Apgd({ norm, eps, steps, restarts, randomStart, loss, rng, onProgress });
    }
    case 'apgd-t':
      return new ApgdTargeted({
        norm,
        eps,
        steps,
        restarts,
        randomStart,
        rng,
        onProgress,
        targetClasses: spec.targetClasses,
      });
    case 'square':
      return new Square({ norm, eps, queries: steps, restarts, pInit: spec.pInit, rng, onProgress });
  }
}

function gradientCommon(spec: AttackSpec, rng: Rng) {
  return {
    eps: spec.eps,
    stepSize: spec.stepSize,
    randomStart: spec.randomStart,
    restarts: spec.restarts,
    loss: spec.loss,
    rng,
  };
}

/** A short human label: "PGD-20", "APGD-CE", "APGD-T", "Square-1000", "CW-20", "FGSM" (restarts as "×R"). */
export function attackLabel(spec: Pick<AttackSpec, 'name' | 'steps' | 'restarts'>): string {
  const restarts = spec.restarts !== undefined && spec.restarts > 1 ? `×${spec.restarts}` : '';
  switch (spec.name) {
    case 'fgsm':
      return 'FGSM';
    case 'pgd':
      return `PGD-${spec.steps ?? 10}${restarts}`;
    case 'cw':
      return `CW-${spec.steps ?? 10}${restarts}`;
    case 'square':
      return `Square-${spec.steps ?? SQUARE_DEFAULT_QUERIES}${restarts}`;
    default:
      return `${spec.name.toUpperCase()}${restarts}`;
  }
}
