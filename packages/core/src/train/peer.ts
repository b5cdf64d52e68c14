import type { Model } from '../models/model';
import type { Sgd } from './sgd';

/** One of the N networks trained together: its model and its optimizer state. */
export interface Peer {
  readonly index: number;
  readonly model: Model;
  readonly optimizer: Sgd;
}

/** Forward mode used for every detached teacher output (and for the published logits in the distributed runtime):
 * batch norm uses the batch's statistics, as the student's own forward does, but running stats are left alone
 * so that computing a label never changes a model. */
export const TEACHER_MODE = { training: true, updateStats: false } as const;

/** Forward mode of the student's pass on the other peers' examples: batch statistics, no running-stat update
 * (the running stats are updated once per step, by the pass on the peer's own adversarial examples). */
export const PEER_BATCH_MODE = TEACHER_MODE;
