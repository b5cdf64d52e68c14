import type { AttackSpec } from '../attacks';
import type { AttackConfig, RunConfig } from '../config/schema';

/** The attack that crafts training examples: TRADES maximises its KL term, Madry AT the cross-entropy. */
export function trainingAttackSpec(attack: AttackConfig, base: RunConfig['method']['base']): AttackSpec {
  return { ...attack, loss: base === 'trades' ? 'trades-kl' : 'ce' };
}

/** Evaluation attacks always maximise the cross-entropy. */
export function evalAttackSpec(attack: AttackConfig): AttackSpec {
  return { ...attack, loss: 'ce' };
}

/** e.g. "PGD-20 linf eps 0.1" or "FGSM l2 eps 1.5". */
export function describeAttack(attack: AttackConfig): string {
  const name = attack.name === 'fgsm' ? 'FGSM' : `PGD-${attack.steps ?? 10}`;
  const restarts = attack.restarts > 1 ? ` x${attack.restarts} restarts` : '';
  return `${name} ${attack.norm} eps ${+attack.eps.toFixed(4)}${restarts}`;
}
