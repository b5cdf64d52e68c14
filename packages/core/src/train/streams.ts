import { Rng } from '../rng';

/**
 * Every random stream is derived from (run seed, purpose, …) rather than carried along, so any process can
 * recreate the stream of any step: a resumed run and a worker of the distributed runtime draw exactly the
 * numbers an uninterrupted in-process run draws. Checkpoints therefore only need the seed and the step.
 */
export const STREAM = {
  init: 1,
  data: 2,
  attack: 3,
  eval: 4,
  /** MAT-MP `random`: which perturbation type a peer trains against at a step. */
  perturbation: 5,
  /** `method.peerSample`: which peers a peer distils from at a step. */
  teachers: 6,
} as const;

/** Seed of peer i's initial weights. */
export function initSeed(seed: number, peer: number): number {
  return Rng.derive(seed, STREAM.init, peer).nextUint32();
}

/**
 * Random starts of peer i's attack at step t. With MAT-MP, `type` is the index of the perturbation type
 * in `mp.attacks`, so every type a peer crafts at a step has its own stream.
 */
export function attackRng(seed: number, peer: number, step: number, type?: number): Rng {
  return type === undefined
    ? Rng.derive(seed, STREAM.attack, peer, step)
    : Rng.derive(seed, STREAM.attack, peer, step, type);
}

/** MAT-MP `random`: the stream that picks peer i's perturbation type at step t. */
export function perturbationChoiceRng(seed: number, peer: number, step: number): Rng {
  return Rng.derive(seed, STREAM.perturbation, peer, step);
}

/** Seed of the data order and augmentation (shared by all peers: they see the same clean batch). */
export function dataSeed(seed: number): number {
  return Rng.derive(seed, STREAM.data).nextUint32();
}

/** Random starts of the evaluation attack on batch b. */
export function evalRng(seed: number, batch: number): Rng {
  return Rng.derive(seed, STREAM.eval, batch);
}

/** `method.peerSample`: the stream that picks peer i's teachers at step t. */
export function teacherSampleRng(seed: number, peer: number, step: number): Rng {
  return Rng.derive(seed, STREAM.teachers, peer, step);
}
