import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import {
  adversarialRowsPerSample,
  attackRng,
  craftAdversarial,
  createAttack,
  crossEntropyPerSample,
  describeMethod,
  describePerturbations,
  matStep,
  parseRunConfig,
  peerLoss,
  perturbationPlan,
  Sgd,
  trainingAttackSpec,
  type AttackConfig,
  type Peer,
  type RunConfig,
} from '@mat/core';
import { randomBatch, snapshotParams, TinyMlp } from '../helpers/tiny-models';

const SHAPE: [number, number, number] = [4, 4, 1];
const CLASSES = 3;
const TYPES = [
  { norm: 'linf', eps: 0.1, steps: 2 },
  { norm: 'l2', eps: 0.5, steps: 2 },
  { norm: 'l1', eps: 2, steps: 2 },
] as const;

function mpConfig(strategy: string, extra: Record<string, unknown> = {}): RunConfig {
  return parseRunConfig({ seed: 5, peers: 3, mp: { strategy, attacks: TYPES }, ...extra });
}

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

/** The attack MAT-MP must use for perturbation type t of peer i at step s, built independently. */
function expectedAdv(
  peer: Peer,
  config: RunConfig,
  attack: AttackConfig,
  t: number,
  s: number,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
) {
  return createAttack(
    trainingAttackSpec(attack, config.method.base),
    attackRng(config.seed, peer.index, s, t),
  ).attack(peer.model, x, y);
}

const values = (t: tf.Tensor) => Array.from(t.dataSync());

describe('MAT-MP config', () => {
  it('accepts the four strategies and describes them', () => {
    for (const strategy of ['fixed', 'random', 'average', 'max']) {
      const config = mpConfig(strategy);
      expect(config.mp?.strategy).toBe(strategy);
      expect(config.mp?.attacks.map((a) => a.norm)).toEqual(['linf', 'l2', 'l1']);
    }
    expect(describePerturbations(mpConfig('max'))).toBe(
      'MAT-MP max over PGD-2 linf eps 0.1, PGD-2 l2 eps 0.5, PGD-2 l1 eps 2',
    );
    expect(describePerturbations(parseRunConfig({}))).toBe('PGD-10 linf eps 0.1');
    expect(describeMethod(parseRunConfig({ peers: 1, method: { base: 'trades' } }))).toBe(
      'trades adversarial training',
    );
    expect(describeMethod(parseRunConfig({ peers: 4, method: { tau: 2, peerSample: 2 } }))).toBe(
      'madry + MAT (λ_own 1, λ_peer 1, τ 2, 2 sampled teacher(s) per step)',
    );
  });

  const bad: [string, unknown, RegExp][] = [
    [
      'no types',
      { mp: { strategy: 'max', attacks: [] } },
      /mp\.attacks: list at least one perturbation type/,
    ],
    ['unknown strategy', { mp: { strategy: 'sum', attacks: TYPES } }, /mp\.strategy: /],
    ['missing strategy', { mp: { attacks: TYPES } }, /mp\.strategy/],
    ['bad type', { mp: { strategy: 'max', attacks: [{ norm: 'l3', eps: 1 }] } }, /mp\.attacks\.0\.norm/],
    ['type without eps', { mp: { strategy: 'max', attacks: [{ norm: 'l2' }] } }, /mp\.attacks\.0\.eps/],
    ['unknown key', { mp: { strategy: 'max', attacks: TYPES, mix: 1 } }, /mp: .*mix/],
    [
      'fixed with more types than peers',
      { peers: 2, mp: { strategy: 'fixed', attacks: TYPES } },
      /mp\.attacks: strategy 'fixed' gives peer i attacks\[i % 3\], so with 2 peer\(s\) attacks\[2\.\.\] would never be used/,
    ],
  ];
  it.each(bad)('rejects %s with an error naming the key', (_what, input, message) => {
    expect(() => parseRunConfig(input)).toThrow(message);
  });
});

describe('perturbationPlan', () => {
  it("without mp: the run's one attack", () => {
    const config = parseRunConfig({});
    expect(perturbationPlan(config, 1, 9)).toEqual({ types: [0], attacks: [config.attack], combine: 'one' });
  });

  it('fixed: peer i gets attacks[i % N] (peer 1 gets l2) at every step', () => {
    const config = mpConfig('fixed', { peers: 4 });
    for (const step of [0, 1, 50]) {
      expect([0, 1, 2, 3].map((p) => perturbationPlan(config, p, step).attacks[0].norm)).toEqual([
        'linf',
        'l2',
        'l1',
        'linf',
      ]);
    }
    expect(perturbationPlan(config, 1, 0)).toMatchObject({ types: [1], combine: 'one' });
  });

  it('random: one type per peer and step, reproducible, varying, and depending on the seed', () => {
    const config = mpConfig('random');
    const picks = (c: RunConfig, peer: number) =>
      Array.from({ length: 40 }, (_, s) => perturbationPlan(c, peer, s).types[0]);
    const p0 = picks(config, 0);
    expect(picks(config, 0)).toEqual(p0);
    expect(new Set(p0)).toEqual(new Set([0, 1, 2]));
    expect(picks(config, 1)).not.toEqual(p0);
    expect(picks(mpConfig('random', { seed: 6 }), 0)).not.toEqual(p0);
    for (let s = 0; s < 40; s++) {
      const plan = perturbationPlan(config, 0, s);
      expect(plan.attacks[0]).toBe(config.mp?.attacks[plan.types[0]]);
    }
  });

  it('average and max: every type, stacked or worst per sample', () => {
    expect(perturbationPlan(mpConfig('average'), 2, 3)).toMatchObject({ types: [0, 1, 2], combine: 'stack' });
    expect(perturbationPlan(mpConfig('max'), 0, 3)).toMatchObject({ types: [0, 1, 2], combine: 'worst' });
    expect(['fixed', 'random', 'average', 'max'].map((s) => adversarialRowsPerSample(mpConfig(s)))).toEqual([
      1, 1, 3, 1,
    ]);
    expect(adversarialRowsPerSample(parseRunConfig({}))).toBe(1);
  });
});

describe('craftAdversarial with MAT-MP', () => {
  const peers = makePeers(3, [1, 2, 3]);
  const { x, y } = randomBatch([5, ...SHAPE], CLASSES, 4);
  afterAll(() => {
    peers.forEach((p) => p.model.dispose());
    tf.dispose([x, y]);
  });

  it('without mp keeps the original single-attack stream', () => {
    const config = parseRunConfig({ seed: 5, attack: { norm: 'linf', eps: 0.1, steps: 2 } });
    const adv = craftAdversarial(peers[1], { x, y }, config, 7);
    const ref = createAttack(trainingAttackSpec(config.attack, 'madry'), attackRng(5, 1, 7)).attack(
      peers[1].model,
      x,
      y,
    );
    expect(values(adv)).toEqual(values(ref));
    tf.dispose([adv, ref]);
  });

  it('fixed: peer 1 crafts the l2 type from its own stream', () => {
    const config = mpConfig('fixed');
    const adv = craftAdversarial(peers[1], { x, y }, config, 7);
    const ref = expectedAdv(peers[1], config, config.mp!.attacks[1], 1, 7, x, y);
    expect(values(adv)).toEqual(values(ref));
    const l2 = tf.tidy(() => tf.sqrt(tf.sum(tf.square(tf.sub(adv, x)), [1, 2, 3])).dataSync());
    const linf = tf.tidy(() => tf.max(tf.abs(tf.sub(adv, x)), [1, 2, 3]).dataSync());
    l2.forEach((n) => expect(n).toBeLessThanOrEqual(0.5 + 1e-5));
    expect(Math.max(...linf)).toBeGreaterThan(0.1); // an l2 step, not the l∞ type
    tf.dispose([adv, ref]);
  });

  it('random: the type drawn for (peer, step), and the same tensor twice', () => {
    const config = mpConfig('random');
    for (const step of [0, 1, 2, 3]) {
      const t = perturbationPlan(config, 2, step).types[0];
      const a = craftAdversarial(peers[2], { x, y }, config, step);
      const b = craftAdversarial(peers[2], { x, y }, config, step);
      const ref = expectedAdv(peers[2], config, config.mp!.attacks[t], t, step, x, y);
      expect(values(a)).toEqual(values(ref));
      expect(values(b)).toEqual(values(a));
      tf.dispose([a, b, ref]);
    }
  });

  it('average: one batch per type, stacked type-major', () => {
    const config = mpConfig('average');
    const adv = craftAdversarial(peers[0], { x, y }, config, 2);
    expect(adv.shape).toEqual([15, ...SHAPE]);
    config.mp!.attacks.forEach((attack, t) => {
      const ref = expectedAdv(peers[0], config, attack, t, 2, x, y);
      const part = tf.slice(adv, [5 * t, 0, 0, 0], [5, ...SHAPE]);
      expect(values(part)).toEqual(values(ref));
      tf.dispose([ref, part]);
    });
    adv.dispose();
  });

  it('max: per sample, the type whose example has the highest cross-entropy', () => {
    const config = mpConfig('max');
    const before = tf.memory().numTensors;
    const adv = craftAdversarial(peers[0], { x, y }, config, 2);
    expect(tf.memory().numTensors).toBe(before + 1);
    const refs = config.mp!.attacks.map((attack, t) => expectedAdv(peers[0], config, attack, t, 2, x, y));
    const losses = refs.map((r) =>
      values(tf.tidy(() => crossEntropyPerSample(peers[0].model.forward(r, { training: false }), y))),
    );
    const picked: number[] = [];
    for (let b = 0; b < 5; b++) {
      let best = 0;
      for (let t = 1; t < 3; t++) if (losses[t][b] > losses[best][b]) best = t;
      picked.push(best);
      const row = values(tf.slice(adv, [b, 0, 0, 0], [1, ...SHAPE]));
      expect(row).toEqual(values(tf.slice(refs[best], [b, 0, 0, 0], [1, ...SHAPE])));
    }
    expect(new Set(picked).size).toBeGreaterThan(1); // the choice is really per sample here
    tf.dispose([adv, ...refs]);
  });
});

describe('MAT step with stacked perturbation types (average)', () => {
  it('base loss = mean over types of the batch-mean CE, TRADES repeats f(x) per type', () => {
    const [peer] = makePeers(1, [7]);
    const { x, y } = randomBatch([4, ...SHAPE], CLASSES, 8);
    const config = mpConfig('average', { peers: 1 });
    const adv = craftAdversarial(peer, { x, y }, config, 0);
    const inputs = { x, y, ownAdv: adv, peerAdvs: [], ownTeachers: [], peerTeachers: [] };
    const parts = peerLoss(peer.model, inputs, config.method);
    const perType = [0, 1, 2].map((t) =>
      tf.tidy(
        () =>
          tf
            .mean(
              crossEntropyPerSample(
                peer.model.forward(tf.slice(adv, [4 * t, 0, 0, 0], [4, ...SHAPE]), { training: true }),
                y,
              ),
            )
            .dataSync()[0],
      ),
    );
    expect(parts.base.dataSync()[0]).toBeCloseTo((perType[0] + perType[1] + perType[2]) / 3, 5);
    expect(parts.labels.shape).toEqual([12]);

    const trades = peerLoss(peer.model, inputs, { ...config.method, base: 'trades', tradesBeta: 2 });
    const kl = [0, 1, 2].map((t) =>
      tf.tidy(() => {
        const p = tf.softmax(peer.model.forward(x, { training: true }));
        const q = tf.logSoftmax(
          peer.model.forward(tf.slice(adv, [4 * t, 0, 0, 0], [4, ...SHAPE]), { training: true }),
        );
        return tf.mean(tf.sum(tf.mul(p, tf.sub(tf.log(p), q)), 1)).dataSync()[0];
      }),
    );
    const ce = tf.tidy(
      () => tf.mean(crossEntropyPerSample(peer.model.forward(x, { training: true }), y)).dataSync()[0],
    );
    expect(trades.base.dataSync()[0]).toBeCloseTo(ce + (2 * (kl[0] + kl[1] + kl[2])) / 3, 5);
    expect(() =>
      peerLoss(peer.model, { ...inputs, ownAdv: tf.slice(adv, [0, 0, 0, 0], [6, ...SHAPE]) }, config.method),
    ).toThrow(/6 rows is not a whole number of clean batches of 4/);
    tf.dispose([
      adv,
      x,
      y,
      parts.base,
      parts.distill,
      parts.total,
      parts.ownLogits,
      parts.labels,
      trades.total,
    ]);
    peer.model.dispose();
  });

  it.each(['fixed', 'random', 'average', 'max'])(
    '%s: matStep trains 3 peers deterministically without leaking',
    (strategy) => {
      const run = () => {
        const peers = makePeers(3, [11, 12, 13]);
        const { x, y } = randomBatch([4, ...SHAPE], CLASSES, 9);
        const config = mpConfig(strategy);
        matStep(peers, { x, y }, { config, step: 0, lr: 0.05 });
        const before = tf.memory().numTensors;
        const metrics = [1, 2].map((step) => matStep(peers, { x, y }, { config, step, lr: 0.05 }));
        expect(tf.memory().numTensors).toBe(before);
        for (const m of metrics.flat()) {
          expect(Number.isFinite(m.loss)).toBe(true);
          expect(m.distill).toBeGreaterThan(0);
        }
        const weights = peers.map((p) => snapshotParams(p.model));
        peers.forEach((p) => p.model.dispose());
        tf.dispose([x, y]);
        return weights;
      };
      expect(run()).toEqual(run());
    },
  );
});
