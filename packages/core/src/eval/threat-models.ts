import type { Norm } from '../attacks';

/**
 * Default radii of the union threat model per dataset, in [0, 1] pixel units.
 * - MNIST: ε∞ = 0.3, ε₂ = 2, ε₁ = 10 — Maini, Wong & Kolter (2020), "Adversarial robustness against the
 *   union of multiple perturbation models", the standard for union robustness on MNIST.
 * - CIFAR-10/100: ε∞ = 8/255, ε₂ = 0.5, ε₁ = 12 — ε₂ as Maini et al., ε₁ = 12 as Croce & Hein (2021,
 *   l1-APGD), ε∞ the common 8/255 (as MAT's CIFAR experiments).
 * - Fashion-MNIST: ε∞ = 0.1 (as the `quick` / `fmnist` training presets), ε₂ = 1.5, ε₁ = 10 (MNIST's l1,
 *   a smaller l2 than MNIST's 2 to match the smaller l∞ radius). There is no standard; these are MAT's.
 */
export const DEFAULT_EVAL_EPS: Readonly<Record<string, Readonly<Record<Norm, number>>>> = {
  'fashion-mnist': { linf: 0.1, l2: 1.5, l1: 10 },
  mnist: { linf: 0.3, l2: 2, l1: 10 },
  cifar10: { linf: 8 / 255, l2: 0.5, l1: 12 },
  cifar100: { linf: 8 / 255, l2: 0.5, l1: 12 },
};

/** The default radii for a dataset; throws naming the known datasets for an unknown one. */
export function defaultEvalEps(dataset: string): Readonly<Record<Norm, number>> {
  const eps = DEFAULT_EVAL_EPS[dataset];
  if (!eps) {
    throw new Error(
      `no default eval eps for dataset '${dataset}'; known: ${Object.keys(DEFAULT_EVAL_EPS).join(', ')}`,
    );
  }
  return eps;
}
