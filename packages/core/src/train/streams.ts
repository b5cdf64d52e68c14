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
} as const;

/** Seed of peer i's initial weights. */
export function initSeed(seed: number, peer: number): number {
  return Rng.derive(seed, STREAM.init, peer).nextUint32();
}

/** Random starts of peer i's attack at step t. */
export function attackRng(seed: number, peer: number, step: number): Rng {
  return Rng.derive(seed, STREAM.attack, peer, step);
}

/** Seed of the data order and augmentation (shared by all peers: they see the same clean batch). */
export function dataSeed(seed: number): number {
  return Rng.derive(seed, STREAM.data).nextUint32();
}

/** Random starts of the evaluation attack on batch b. */
export function evalRng(seed: number, batch: number): Rng {
  return Rng.derive(seed, STREAM.eval, batch);
}
