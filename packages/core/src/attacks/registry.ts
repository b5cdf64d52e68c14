import type { Rng } from '../rng';
import type { Attack, Norm } from './attack';
import { ATTACK_LOSSES, type AttackLoss } from './attack-loss';
import { Fgsm } from './fgsm';
import { NORMS } from './geometries';
import { PgdL1 } from './pgd-l1';
import { PgdL2 } from './pgd-l2';
import { PgdLinf } from './pgd-linf';

export const ATTACK_NAMES = ['fgsm', 'pgd'] as const;
export type AttackName = (typeof ATTACK_NAMES)[number];

/** A serialisable description of an attack (what configs and the CLI hold). */
export interface AttackSpec {
  name: AttackName;
  norm: Norm;
  eps: number;
  /** @defaultValue pgd: 2.5·eps/steps; fgsm: eps (1.25·eps with randomStart) */
  stepSize?: number;
  /** pgd only (fgsm is one step; giving it anything but 1 is an error). @defaultValue 10 */
  steps?: number;
  /** @defaultValue pgd: true; fgsm: false */
  randomStart?: boolean;
  /** @defaultValue 1 */
  restarts?: number;
  /** @defaultValue 'ce' */
  loss?: AttackLoss;
  /** SLIDE percentile for norm 'l1'. @defaultValue 99 */
  l1SparsityQuantile?: number;
}

/**
 * Builds the attack a spec describes, drawing its random starts from `rng`. Throws an Error naming the
 * problem for an unknown name, norm or loss, or a bad value (eps ≤ 0, steps < 1, …). The forward mode
 * is the attacks' default, eval mode.
 */
export function createAttack(spec: AttackSpec, rng: Rng): Attack {
  if (!(ATTACK_NAMES as readonly string[]).includes(spec.name)) {
    throw new Error(`unknown attack '${spec.name}'; known: ${ATTACK_NAMES.join(', ')}`);
  }
  if (!NORMS.includes(spec.norm))
    throw new Error(`${spec.name}: unknown norm '${spec.norm}'; known: ${NORMS.join(', ')}`);
  if (spec.loss !== undefined && !ATTACK_LOSSES.includes(spec.loss)) {
    throw new Error(`${spec.name}: unknown loss '${spec.loss}'; known: ${ATTACK_LOSSES.join(', ')}`);
  }
  if (spec.l1SparsityQuantile !== undefined && spec.norm !== 'l1') {
    throw new Error(`${spec.name}: l1SparsityQuantile applies to norm 'l1' only, not '${spec.norm}'`);
  }
  const common = {
    eps: spec.eps,
    stepSize: spec.stepSize,
    randomStart: spec.randomStart,
    restarts: spec.restarts,
    loss: spec.loss,
    rng,
  };
  if (spec.name === 'fgsm') {
    if (spec.steps !== undefined && spec.steps !== 1) {
      throw new Error(`fgsm: takes exactly one step, got steps = ${spec.steps} (use name 'pgd' to iterate)`);
    }
    return new Fgsm({ ...common, norm: spec.norm, sparsityQuantile: spec.l1SparsityQuantile });
  }
  const pgd = { ...common, steps: spec.steps };
  switch (spec.norm) {
    case 'linf':
      return new PgdLinf(pgd);
    case 'l2':
      return new PgdL2(pgd);
    case 'l1':
      return new PgdL1({ ...pgd, sparsityQuantile: spec.l1SparsityQuantile });
  }
}
