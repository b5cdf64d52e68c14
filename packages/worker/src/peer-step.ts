import * as tf from '@tensorflow/tfjs-core';
import {
  assertFiniteMetrics,
  assertFinitePeer,
  assertFiniteTensor,
  craftAdversarial,
  labelRowsOf,
  methodAtStep,
  partnersOf,
  studentsOf,
  teacherOutputs,
  teacherPlan,
  updatePeer,
  type Peer,
  type PeerStepMetrics,
  type RunConfig,
} from '@mat/core';
import type { PeerExchange } from '@mat/exchange';
import { rowOf, toPayload, toTensor } from './payloads';

export interface PeerStepContext {
  config: RunConfig;
  /** 0-based index of the step being taken. */
  step: number;
  lr: number;
  /** Aborts the step while it waits for the peers (nothing is updated then). */
  signal?: AbortSignal;
}

export interface DistributedStepMetrics extends PeerStepMetrics {
  /** Time spent publishing and waiting for the peers' messages. */
  exchangeSeconds: number;
  /** Bounded staleness only: this step minus the oldest step whose teacher outputs it used. */
  staleness?: number;
}

/**
 * One MAT step of one peer, exchanging with the others (the distributed form of core's matStep, which it
 * reproduces exactly: same phases, same inputs, same order of teachers).
 */
export async function peerStep(
  peer: Peer,
  exchange: PeerExchange,
  batch: { x: tf.Tensor4D; y: tf.Tensor1D },
  ctx: PeerStepContext,
): Promise<DistributedStepMetrics> {
  const { config, step, lr, signal } = ctx;
  const i = peer.index;
  const plan = teacherPlan(config, step);
  const teachers = plan.teachers[i];
  const students = studentsOf(plan, i);
  const partners = partnersOf(plan, i);
  let exchangeSeconds = 0;
  const timed = async <T>(p: Promise<T>): Promise<T> => {
    const t0 = performance.now();
    const value = await p;
    exchangeSeconds += (performance.now() - t0) / 1000;
    return value;
  };
  const owned: tf.Tensor[] = [];

  try {
    // 1. Attack: x_i', crafted from the shared clean batch against this peer's own model.
    const ownAdv = craftAdversarial(peer, batch, config, step);
    owned.push(ownAdv);
    // A diverged peer is caught here, before it publishes anything: its partners would reject non-finite
    // messages and wait for it forever (DivergenceError ends or rolls back the run instead).
    assertFiniteTensor(ownAdv, i, step + 1, 'adversarial examples');

    // 2. Publish x_i' to the partners (teachers label it, students learn on it); receive theirs. While
    //    the partners' batches are on their way, label x_i' (f_i(x_i'), which needs nothing from them):
    //    the wait for the slower partner then overlaps useful work.
    await timed(exchange.publish('adv', step, toPayload(ownAdv), partners));
    const rows = labelRowsOf(plan, i);
    const labelOf = new Map<number, tf.Tensor2D>();
    if (rows.includes(i)) labelOf.set(i, teacherOutputs(peer, [ownAdv])[0]);
    owned.push(...labelOf.values());
    for (const t of labelOf.values()) assertFiniteTensor(t, i, step + 1, 'teacher logits');
    const received = await timed(exchange.receive('adv', step, partners, signal));
    const advOf = new Map(partners.map((j) => [j, toTensor(received.get(j)!) as tf.Tensor4D]));
    advOf.set(i, ownAdv);
    owned.push(...partners.map((j) => advOf.get(j)!));

    // 3. Teacher labels: f_i(x_k') (detached) for every row k a student needs — its own x_j' and x_i' —
    //    published to the students as one [N, B, K] tensor (rows nobody needs stay zero); receive each
    //    teacher's, of which this peer needs rows i (f_j(x_i')) and j (f_j(x_j')).
    const others = rows.filter((k) => k !== i);
    teacherOutputs(
      peer,
      others.map((k) => advOf.get(k)!),
    ).forEach((t, r) => {
      labelOf.set(others[r], t);
      owned.push(t);
    });
    for (const k of others) assertFiniteTensor(labelOf.get(k)!, i, step + 1, 'teacher logits');
    const mine = rows.map((k) => labelOf.get(k)!);
    if (students.length > 0) {
      const stacked = stackRows(mine, rows, config.peers);
      owned.push(stacked);
      await timed(exchange.publish('labels', step, toPayload(stacked), students));
    }
    const labels = await timed(exchange.receive('labels', step, teachers, signal));
    const row = (j: number, k: number) => {
      const t = rowOf(labels.get(j)!, k) as tf.Tensor2D;
      owned.push(t);
      return t;
    };

    // 4. Loss and update: the MAT loss of this peer, one SGD step.
    const metrics = updatePeer(
      peer,
      {
        x: batch.x,
        y: batch.y,
        ownAdv,
        peerAdvs: teachers.map((j) => advOf.get(j)!),
        ownTeachers: teachers.map((j) => row(j, i)),
        peerTeachers: teachers.map((j) => row(j, j)),
      },
      methodAtStep(config.method, step),
      lr,
    );
    assertFiniteMetrics(metrics, i, step + 1);
    assertFinitePeer(peer, step + 1);
    return { ...metrics, exchangeSeconds };
  } finally {
    tf.dispose(owned);
  }
}

/** The [N, B, K] labels message: outputs[r] at row rows[r], zeros elsewhere. */
function stackRows(outputs: tf.Tensor2D[], rows: number[], peerCount: number): tf.Tensor3D {
  return tf.tidy(() => {
    const zero = tf.zerosLike(outputs[0]);
    return tf.stack(
      Array.from({ length: peerCount }, (_, k) => {
        const r = rows.indexOf(k);
        return r < 0 ? zero : outputs[r];
      }),
    ) as tf.Tensor3D;
  });
}
