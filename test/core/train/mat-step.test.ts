import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import {
  attackRng,
  createAttack,
  matStep,
  methodAtStep,
  parseRunConfig,
  Sgd,
  teacherPlan,
  trainingAttackSpec,
  type Peer,
  type RunConfig,
} from '@mat/core';
import { randomBatch, snapshotParams, TinyMlp } from '../helpers/tiny-models';

const SHAPE: [number, number, number] = [4, 4, 1];
const CLASSES = 3;

function makePeers(n: number, seeds: number[]): Peer[] {
  return Array.from({ length: n }, (_, index) => {
    const model = new TinyMlp(SHAPE, CLASSES, 8, seeds[index]);
    return {
      index,
      model,
      optimizer: new Sgd(model.params, { momentum: 0, weightDecay: 0, nesterov: false }),
    };
  });
}

/** Independent KL(p_t ‖ p_s) with p = softmax(z/τ), batch mean: written out, not the library's. */
function klRef(teacher: tf.Tensor2D, student: tf.Tensor2D, tau: number): tf.Scalar {
  const pt = tf.softmax(tf.div(teacher, tau));
  const logPs = tf.sub(tf.div(student, tau), tf.logSumExp(tf.div(student, tau), 1, true));
  const logPt = tf.log(pt);
  return tf.mean(tf.sum(tf.mul(pt, tf.sub(logPt, logPs)), 1));
}

describe('matStep', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  const config = parseRunConfig({
    seed: 11,
    peers: 3,
    method: { lambdaOwn: 0.7, lambdaPeer: 1.3, tau: 2 },
    attack: { norm: 'linf', eps: 0.2, stepSize: 0.05, steps: 3 },
  });

  /**
   * Runs matStep on 3 or 4 peers and checks every peer's new weights against an independent computation of
   * its MAT loss's gradient with `teachersOf(i)` as its teachers.
   */
  function expectIndependentUpdate(cfg: RunConfig, teachersOf: (i: number) => number[]): void {
    const n = cfg.peers;
    const seeds = Array.from({ length: n }, (_, i) => i + 1);
    const peers = makePeers(n, seeds);
    const reference = makePeers(n, seeds); // untouched copies with the pre-step weights
    const { x, y } = randomBatch([6, ...SHAPE], CLASSES, 5);
    const step = 7;
    const lr = 0.1;

    matStep(peers, { x, y }, { config: cfg, step, lr });

    const { lambdaOwn, lambdaPeer, tau } = cfg.method;
    const spec = trainingAttackSpec(cfg.attack, 'madry');
    const advs = reference.map((p) =>
      createAttack(spec, attackRng(cfg.seed, p.index, step)).attack(p.model, x, y),
    );
    reference.forEach((peer, i) => {
      const others = teachersOf(i);
      const mode = { training: true };
      const ownTeachers = others.map((j) => reference[j].model.forward(advs[i], mode));
      const peerTeachers = others.map((j) => reference[j].model.forward(advs[j], mode));
      const { grads } = tf.variableGrads(
        () => {
          const own = peer.model.forward(advs[i], mode);
          const ce = tf.neg(tf.mean(tf.sum(tf.mul(tf.oneHot(y, CLASSES), tf.logSoftmax(own)), 1)));
          const kdOwn = tf.mean(tf.stack(ownTeachers.map((t) => klRef(t, own, tau))));
          const kdPeer = tf.mean(
            tf.stack(others.map((j, k) => klRef(peerTeachers[k], peer.model.forward(advs[j], mode), tau))),
          );
          return tf.add(
            ce,
            tf.mul(tau * tau, tf.add(tf.mul(lambdaOwn, kdOwn), tf.mul(lambdaPeer, kdPeer))),
          ) as tf.Scalar;
        },
        peer.model.params.map((p) => p.variable),
      );
      peer.model.params.forEach(({ variable }, k) => {
        const expected = tf.sub(variable, tf.mul(grads[variable.name], lr)).dataSync();
        const actual = peers[i].model.params[k].variable.dataSync();
        for (let e = 0; e < expected.length; e++) expect(actual[e]).toBeCloseTo(expected[e], 5);
      });
    });
  }

  it('updates every peer with teacher outputs computed before any update (3 peers, vs an independent computation)', () => {
    expectIndependentUpdate(config, (i) => [0, 1, 2].filter((j) => j !== i));
  });

  it('with peer sampling, each peer distils from exactly its k sampled teachers (4 peers, k = 2)', () => {
    const sampled = parseRunConfig({ ...config, peers: 4, method: { ...config.method, peerSample: 2 } });
    const plan = teacherPlan(sampled, 7);
    for (const [i, t] of plan.teachers.entries()) {
      expect(t).toHaveLength(2);
      expect(t).not.toContain(i);
    }
    expectIndependentUpdate(sampled, (i) => [...plan.teachers[i]]);
  });

  it('with one peer is plain adversarial training (no distillation term)', () => {
    const [peer] = makePeers(1, [4]);
    const { x, y } = randomBatch([5, ...SHAPE], CLASSES, 6);
    const [m] = matStep([peer], { x, y }, { config: { ...config, peers: 1 }, step: 0, lr: 0.1 });
    expect(m.distill).toBe(0);
    expect(m.loss).toBeCloseTo(m.base, 6);
  });

  it('is deterministic by seed and keeps tf.memory().numTensors flat over 200 steps', () => {
    const run = (steps: number) => {
      const peers = makePeers(2, [8, 9]);
      const { x, y } = randomBatch([4, ...SHAPE], CLASSES, 7);
      const cfg = { ...config, peers: 2, attack: { ...config.attack, steps: 1 } };
      matStep(peers, { x, y }, { config: cfg, step: 0, lr: 0.05 });
      const before = tf.memory().numTensors;
      for (let s = 1; s < steps; s++) matStep(peers, { x, y }, { config: cfg, step: s, lr: 0.05 });
      const after = tf.memory().numTensors;
      const weights = peers.map((p) => snapshotParams(p.model));
      peers.forEach((p) => p.model.dispose());
      tf.dispose([x, y]);
      return { before, after, weights };
    };
    const a = run(200);
    expect(a.after).toBe(a.before);
    const b = run(3);
    const c = run(3);
    expect(b.weights).toEqual(c.weights);
  });

  it('ramps the distillation weights linearly over distillWarmupSteps', () => {
    const method = { ...config.method, lambdaOwn: 1, lambdaPeer: 2, distillWarmupSteps: 10 };
    expect(methodAtStep(method, 0)).toMatchObject({ lambdaOwn: 0, lambdaPeer: 0 });
    expect(methodAtStep(method, 5)).toMatchObject({ lambdaOwn: 0.5, lambdaPeer: 1 });
    expect(methodAtStep(method, 10)).toBe(method);
    expect(methodAtStep({ ...method, distillWarmupSteps: 0 }, 0)).toMatchObject({
      lambdaOwn: 1,
      lambdaPeer: 2,
    });
    // At step 0 of a ramp the MAT step is plain AT for every peer.
    const peers = makePeers(2, [1, 2]);
    const { x, y } = randomBatch([4, ...SHAPE], CLASSES, 9);
    const metrics = matStep(peers, { x, y }, { config: { ...config, peers: 2, method }, step: 0, lr: 0.1 });
    for (const m of metrics) expect(m.loss).toBeCloseTo(m.base, 6);
  });
});
