import type { Norm } from './attack';
import type { NormGeometry } from './norm-geometry';
import { l1Geometry } from './pgd-l1';
import { L2_GEOMETRY } from './pgd-l2';
import { LINF_GEOMETRY } from './pgd-linf';

export const NORMS: readonly Norm[] = ['linf', 'l2', 'l1'];

/** The step/projection/random-start geometry of a norm; `sparsityQuantile` is used by l1 only. */
export function geometryFor(norm: Norm, sparsityQuantile?: number): NormGeometry {
  switch (norm) {
    case 'linf':
      return LINF_GEOMETRY;
    case 'l2':
      return L2_GEOMETRY;
    case 'l1':
      return l1Geometry(sparsityQuantile);
    default:
      throw new Error(`unknown norm '${norm as string}'; known: linf, l2, l1`);
  }
}
