import type { RunConfig } from '../config/schema';
import { teacherSampleRng } from './streams';

/**
 * Who learns from whom at one step. By default every peer distils from all N−1 others. With
 * `method.peerSample = k` (large N) each peer distils from k others drawn afresh every step from a stream
 * derived from (seed, peer, step), so every process — the in-process trainer, each distributed worker, a
 * resumed run — draws the same plan without talking to the others.
 *
 * From the plan each peer also knows whom it teaches (its students): a teacher j of peer i must label
 * x_i', so the adversarial examples travel between a peer and its partners (teachers ∪ students) only,
 * and teacher labels f_j(x_k') are computed for the rows students need only.
 */
export interface TeacherPlan {
  /** teachers[i]: the peers peer i distils from, ascending. */
  readonly teachers: readonly (readonly number[])[];
}

export function teacherPlan(
  config: Pick<RunConfig, 'seed' | 'peers'> & { method: Pick<RunConfig['method'], 'peerSample'> },
  step: number,
): TeacherPlan {
  const n = config.peers;
  const k = config.method.peerSample;
  const teachers = Array.from({ length: n }, (_, i) => {
    const others = Array.from({ length: n }, (_, j) => j).filter((j) => j !== i);
    if (k === undefined || k >= others.length) return others;
    // Partial Fisher–Yates: the first k of a seeded shuffle, then ascending (a fixed order of the KL terms).
    const rng = teacherSampleRng(config.seed, i, step);
    for (let a = 0; a < k; a++) {
      const b = a + rng.int(others.length - a);
      [others[a], others[b]] = [others[b], others[a]];
    }
    return others.slice(0, k).sort((a, b) => a - b);
  });
  return { teachers };
}

/** The peers that distil from peer i (it labels their adversarial examples), ascending. */
export function studentsOf(plan: TeacherPlan, i: number): number[] {
  return plan.teachers.flatMap((t, j) => (t.includes(i) ? [j] : []));
}

/** The peers peer i swaps adversarial examples with: its teachers and its students, ascending. */
export function partnersOf(plan: TeacherPlan, i: number): number[] {
  return [...new Set([...plan.teachers[i], ...studentsOf(plan, i)])].sort((a, b) => a - b);
}

/**
 * The peers k whose x_k' peer i must label for its students: its own (each student needs f_i(x_i')) and
 * each student's (f_i(x_j')). Without students nothing is needed.
 */
export function labelRowsOf(plan: TeacherPlan, i: number): number[] {
  const students = studentsOf(plan, i);
  return students.length === 0 ? [] : [...students, i].sort((a, b) => a - b);
}
