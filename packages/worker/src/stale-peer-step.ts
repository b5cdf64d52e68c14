import * as tf from '@tensorflow/tfjs-core';
import {
  assertFiniteMetrics,
  assertFinitePeer,
  assertFiniteTensor,
  craftAdversarial,
  DivergenceError,
  methodAtStep,
  partnersOf,
  studentsOf,
  teacherOutputs,
  teacherPlan,
  updatePeer,
  type Peer,
  type RunConfig,
} from '@mat/core';
import type { CollectOptions, PeerExchange, ReceivedMessage, TensorPayload } from '@mat/exchange';
import { rowOf, toPayload, toTensor } from './payloads';
import type { DistributedStepMetrics, PeerStepContext } from './peer-step';

/**
 * Bounded staleness (train.maxStaleness = s > 0): the MAT step of one peer that never waits for a peer's
 * messages of the current step, only for messages fresh enough. Step t of peer i:
 *
 *   1. craft x_i'(t), compute f_i(x_i'(t)) (before the update, as in the synchronous step) and publish
 *      'adv' x_i'(t) to its partners — at once, whatever the others are doing;
 *   2. answer: for every x_k'(u) received from a student k with u <= t, publish 'labels' of step u to k —
 *      an [N, B, K] message whose row i is f_i(x_i'(u)) and row k is f_i(x_k'(u)) (current weights);
 *   3. learn, from each teacher j, on the freshest step u_j in [t − s, t] for which both x_j'(u_j) and
 *      j's labels of step u_j are here (peer term: x_j'(u_j) and row j), and for the own-examples term on
 *      the freshest of its own x_i'(u) with u in [t − s, t] that every teacher of step u has labelled
 *      (row i of their labels of step u);
 *   4. wait (answering all the while) only when one of these is missing; then update.
 * The staleness recorded in the metrics is t minus the oldest step used.
 *
 * Why nobody can wait forever: take the peer m on the smallest step t. Every other peer j has already
 * crafted x_j'(t) and published it (step 1 never waits), and answers m's x_m'(t) at its next collect
 * (every wait collects, every step starts with one, and a peer whose loop has ended keeps answering:
 * serve()). So j's labels of step t reach m, and m's step t finds u = t for every term. The slowest peer
 * always progresses, hence every peer does. Answering needs f_j(x_j'(t)), which j keeps for s + 2 steps:
 * enough, because j cannot be further ahead (next paragraph).
 *
 * Why a fast peer is at most s steps ahead: peer i finishes step t only with labels of some step u >= t − s
 * from each teacher j, and j sends labels of step u only once it has crafted x_j'(u) — so when i finishes
 * step t, each of its teachers has at least started step t − s. (With s = 0 this is the synchronous
 * runtime's "one step ahead".) Every peer being every other's teacher (the config rejects maxStaleness
 * with peer sampling), the spread of the whole group is bounded by s + 1 steps; that is also why the
 * exchanges accept steps from current − s to current + s + 1 and nothing else.
 *
 * The messages of one sender arrive in the order they were sent (IPC), or are collected labels first
 * (Redis), so an answer's x_k'(u) has always been collected when the labels that make a step possible are.
 */
export class StalePeer {
  private readonly s: number;
  /** The step this peer is on (its newest x_i'); -1 before the first. */
  private current = -1;
  /** x_i'(u) of the steps the own-examples term may still use (u >= current − s). */
  private readonly ownAdvs = new Map<number, tf.Tensor4D>();
  /** f_i(x_i'(u)) as plain data, for answers to students up to s + 1 steps behind. */
  private readonly selfLabels = new Map<number, Float32Array>();
  /** x_k'(u) received, by `${k}:${u}`, and which of them this peer has answered. */
  private readonly advs = new Map<string, TensorPayload>();
  private readonly answered = new Set<string>();
  /** Labels received from teacher j for step u, by `${j}:${u}`. */
  private readonly labels = new Map<string, TensorPayload>();

  constructor(
    readonly peer: Peer,
    readonly config: RunConfig,
  ) {
    this.s = config.train.maxStaleness;
    if (this.s < 1)
      throw new Error('StalePeer needs train.maxStaleness >= 1 (0 is the synchronous peerStep)');
  }

  /** Step `ctx.step` of this peer; see the class comment. */
  async step(
    exchange: PeerExchange,
    batch: { x: tf.Tensor4D; y: tf.Tensor1D },
    ctx: PeerStepContext,
  ): Promise<DistributedStepMetrics & { staleness: number }> {
    const { config, step: t, lr, signal } = ctx;
    const i = this.peer.index;
    const plan = teacherPlan(config, t);
    let exchangeSeconds = 0;
    const timed = async <T>(p: Promise<T>): Promise<T> => {
      const t0 = performance.now();
      const value = await p;
      exchangeSeconds += (performance.now() - t0) / 1000;
      return value;
    };
    this.moveTo(t);

    // 1. Attack, own teacher labels, publish x_i'(t) — never waits.
    const ownAdv = craftAdversarial(this.peer, batch, config, t);
    this.ownAdvs.set(t, ownAdv);
    // Checked before publishing, as in the synchronous step (peer-step.ts).
    assertFiniteTensor(ownAdv, i, t + 1, 'adversarial examples');
    if (studentsOf(plan, i).length > 0) {
      const [selfLabel] = teacherOutputs(this.peer, [ownAdv]);
      try {
        assertFiniteTensor(selfLabel, i, t + 1, 'teacher logits');
      } catch (err) {
        selfLabel.dispose();
        throw err;
      }
      this.selfLabels.set(t, selfLabel.dataSync() as Float32Array);
      selfLabel.dispose();
    }
    await timed(exchange.publish('adv', t, toPayload(ownAdv), partnersOf(plan, i)));

    // 2.–4. Answer, and wait only until every term has something fresh enough.
    await timed(this.absorb(exchange, { wait: false }));
    let choice = this.choose(t);
    while (!choice) {
      await timed(this.absorb(exchange, { wait: true, signal }));
      choice = this.choose(t);
    }

    // 5. Loss and update.
    const owned: tf.Tensor[] = [];
    const tensor = <T extends tf.Tensor>(x: T): T => {
      owned.push(x);
      return x;
    };
    try {
      const { own, peers } = choice;
      const teachers = plan.teachers[i];
      const metrics = updatePeer(
        this.peer,
        {
          x: batch.x,
          y: batch.y,
          ownAdv,
          ownTeachersAdv: own.step === t ? undefined : this.ownAdvs.get(own.step),
          ownTeachers: own.teachers.map((j) => tensor(rowOf(this.labels.get(key(j, own.step))!, i))),
          peerAdvs: teachers.map((j, r) => tensor(toTensor(this.advs.get(key(j, peers[r]))!) as tf.Tensor4D)),
          peerTeachers: teachers.map((j, r) => tensor(rowOf(this.labels.get(key(j, peers[r]))!, j))),
        },
        methodAtStep(config.method, t),
        lr,
      );
      assertFiniteMetrics(metrics, i, t + 1);
      assertFinitePeer(this.peer, t + 1);
      const staleness = t - Math.min(own.step, ...peers);
      return { ...metrics, exchangeSeconds, staleness };
    } finally {
      tf.dispose(owned);
    }
  }

  /**
   * Answers the students for up to `timeoutMs` (or until `signal`): what a peer does once its own steps
   * are over while slower peers still need its labels.
   */
  async serve(exchange: PeerExchange, opts: { timeoutMs: number; signal?: AbortSignal }): Promise<void> {
    await this.absorb(exchange, { wait: true, ...opts });
  }

  /** Forgets everything (a new generation, or a restore). */
  reset(): void {
    tf.dispose([...this.ownAdvs.values()]);
    this.ownAdvs.clear();
    this.selfLabels.clear();
    this.advs.clear();
    this.answered.clear();
    this.labels.clear();
    this.current = -1;
  }

  dispose(): void {
    this.reset();
  }

  /** Number of tensors held between steps (for tests: at most s + 1). */
  get heldTensors(): number {
    return this.ownAdvs.size;
  }

  /** Moves to step t and drops what no step from t on can use. */
  private moveTo(t: number): void {
    this.current = t;
    const oldest = t - this.s;
    for (const [u, adv] of this.ownAdvs) {
      if (u >= oldest) continue;
      adv.dispose();
      this.ownAdvs.delete(u);
    }
    for (const u of this.selfLabels.keys()) if (u < oldest - 1) this.selfLabels.delete(u);
    for (const map of [this.advs, this.labels]) {
      for (const k of map.keys()) if (stepOf(k) < oldest) map.delete(k);
    }
    for (const k of this.answered) if (stepOf(k) < oldest) this.answered.delete(k);
  }

  /** Collects what has arrived (waiting per `opts`), then answers every student batch it can. */
  private async absorb(exchange: PeerExchange, opts: CollectOptions): Promise<void> {
    const t = Math.max(this.current, 0);
    const got = await exchange.collect([Math.max(0, t - this.s), t + this.s + 1], opts);
    for (const m of got) this.store(m);
    await this.answer(exchange);
  }

  private store(m: ReceivedMessage): void {
    (m.kind === 'adv' ? this.advs : this.labels).set(key(m.from, m.step), m.tensor);
  }

  /** Labels for every received x_k'(u) of a student k with u <= current, oldest first (keeps the order). */
  private async answer(exchange: PeerExchange): Promise<void> {
    const i = this.peer.index;
    const due = [...this.advs.keys()]
      .filter((k) => !this.answered.has(k) && stepOf(k) <= this.current)
      .sort((a, b) => stepOf(a) - stepOf(b) || fromOf(a) - fromOf(b));
    for (const k of due) {
      const [from, u] = [fromOf(k), stepOf(k)];
      this.answered.add(k);
      const own = this.selfLabels.get(u);
      // Only a student's batch is labelled; x_j' of a teacher is here for the peer term.
      if (!own || !studentsOf(teacherPlan(this.config, u), i).includes(from)) continue;
      const adv = toTensor(this.advs.get(k)!) as tf.Tensor4D;
      const [label] = teacherOutputs(this.peer, [adv]);
      const [b, classes] = label.shape;
      const data = label.dataSync() as Float32Array;
      tf.dispose([adv, label]);
      if (!data.every(Number.isFinite)) throw new DivergenceError(i, this.current + 1, 'teacher logits');
      const rows = this.config.peers;
      const message = new Float32Array(rows * data.length);
      message.set(own, i * data.length);
      message.set(data, from * data.length);
      await exchange.publish('labels', u, { shape: [rows, b, classes], data: message }, [from]);
    }
  }

  /** The steps to learn from at step t, or undefined while something fresh enough is missing. */
  private choose(
    t: number,
  ): { own: { step: number; teachers: readonly number[] }; peers: number[] } | undefined {
    const i = this.peer.index;
    const window = Array.from({ length: this.s + 1 }, (_, d) => t - d).filter((u) => u >= 0);
    const ownStep = window.find(
      (u) =>
        this.ownAdvs.has(u) &&
        teacherPlan(this.config, u).teachers[i].every((j) => this.labels.has(key(j, u))),
    );
    if (ownStep === undefined) return undefined;
    const peers: number[] = [];
    for (const j of teacherPlan(this.config, t).teachers[i]) {
      const u = window.find((u) => this.labels.has(key(j, u)) && this.advs.has(key(j, u)));
      if (u === undefined) return undefined;
      peers.push(u);
    }
    return { own: { step: ownStep, teachers: teacherPlan(this.config, ownStep).teachers[i] }, peers };
  }
}

const key = (from: number, step: number) => `${from}:${step}`;
const fromOf = (k: string) => Number(k.split(':')[0]);
const stepOf = (k: string) => Number(k.split(':')[1]);
