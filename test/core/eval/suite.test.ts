import * as tf from '@tensorflow/tfjs-core';
import {
  createAttack,
  defaultEvalEps,
  EnsembleModel,
  Rng,
  runEvalSuite,
  unionCorrect,
  type Dataset,
  type EvalProgress,
  type EvalSuiteSpec,
  type Model,
  type ModelEvalResult,
} from '@mat/core';
import { TinyConvNet } from '../helpers/tiny-models';

const SHAPE: [number, number, number] = [8, 8, 1];

/** 14 random images labelled by `labeller`'s own predictions (so it starts at 100 % clean accuracy). */
function dataset(labeller: Model, count = 14): Dataset {
  const rng = new Rng(4);
  const images = Uint8Array.from({ length: count * 64 }, () => rng.int(256));
  const x = tf.tensor4d(
    Float32Array.from(images, (v) => v / 255),
    [count, ...SHAPE],
  );
  const labels = Int32Array.from(
    tf.tidy(() => tf.argMax(labeller.forward(x, { training: false }), 1)).dataSync(),
  );
  x.dispose();
  return { name: 'synthetic', split: 'test', images, labels, count, shape: SHAPE, numClasses: 4 };
}

describe('runEvalSuite', () => {
  const peers = [new TinyConvNet(SHAPE, 4, 3, 1), new TinyConvNet(SHAPE, 4, 3, 2)];
  const ensemble = new EnsembleModel(peers);
  const ds = dataset(peers[0]);
  const targets = [
    { name: 'peer 0', peer: 0, model: peers[0] },
    { name: 'peer 1', peer: 1, model: peers[1] },
    { name: 'ensemble', model: ensemble },
  ];
  const spec: EvalSuiteSpec = {
    attacks: [
      { name: 'fgsm' },
      { name: 'pgd', steps: 5 },
      { name: 'apgd-ce', steps: 5 },
      { name: 'square', steps: 20 },
    ],
    eps: { linf: 0.05, l2: 0.4, l1: 2 },
    scales: [0.5, 1],
    batchSize: 5,
    seed: 3,
  };
  afterAll(() => peers.forEach((p) => p.dispose()));

  let result: ReturnType<typeof runEvalSuite>;
  const progress: EvalProgress[] = [];
  const finished: ModelEvalResult[] = [];
  // A clock that advances one "millisecond" per reported attack iteration, so each attack's time is known.
  let ticks = 0;
  beforeAll(() => {
    const before = tf.memory().numTensors;
    result = runEvalSuite(targets, ds, spec, {
      onProgress: (p) => {
        if (p.step !== undefined) ticks++;
        progress.push(p);
      },
      onModelDone: (m) => finished.push(m),
      now: () => ticks,
    });
    expect(tf.memory().numTensors).toBe(before);
  });

  it('covers every attack × norm × scale it supports, and says what it skipped', () => {
    expect(result.skipped).toEqual([
      { attack: 'square', norm: 'l1', reason: 'square is not defined for l1' },
    ]);
    for (const m of result.models) {
      expect(m.results).toHaveLength((4 + 4 + 3) * 2);
      expect(m.count).toBe(14);
      expect(m.unions.map((u) => `${u.norm}@${u.scale}`)).toEqual([
        'linf@0.5',
        'l2@0.5',
        'l1@0.5',
        'all@0.5',
        'linf@1',
        'l2@1',
        'l1@1',
        'all@1',
      ]);
    }
    expect(result.models[0].cleanAccuracy).toBe(1);
    expect(result.models.map((m) => m.model)).toEqual(['peer 0', 'peer 1', 'ensemble']);
    const last = progress[progress.length - 1];
    expect(last.done).toBe(last.total);
    expect(last.total).toBe(3 * 3 * 22); // models × batches × cells
    expect(progress.some((p) => p.step !== undefined)).toBe(true);
  });

  it('union ≤ every attack of its norm ≤ clean, and the all-norm union ≤ every norm union', () => {
    for (const m of result.models) {
      for (const r of m.results) expect(r.accuracy).toBeLessThanOrEqual(m.cleanAccuracy);
      for (const u of m.unions) {
        const members = m.results.filter(
          (r) => r.scale === u.scale && (u.norm === 'all' || r.norm === u.norm),
        );
        expect(members.length).toBe(u.attacks.length);
        for (const r of members) expect(u.correct).toBeLessThanOrEqual(r.correct);
        if (u.norm === 'all') {
          for (const v of m.unions.filter((v) => v.scale === u.scale && v.norm !== 'all'))
            expect(u.correct).toBeLessThanOrEqual(v.correct);
        }
      }
      // The attacks do something at the larger radius.
      const unionAll = m.unions.find((u) => u.norm === 'all' && u.scale === 1)!;
      expect(unionAll.accuracy).toBeLessThan(m.cleanAccuracy);
    }
  });

  it('lists, per model, the images misclassified clean and the images each attack broke', () => {
    for (const [t, m] of result.models.entries()) {
      // Clean mistakes, recomputed here batch-free.
      const x = tf.tensor4d(
        Float32Array.from(ds.images, (v) => v / 255),
        [ds.count, ...SHAPE],
      );
      const predicted = tf.tidy(() => tf.argMax(targets[t].model.forward(x, { training: false }), 1));
      const wrong = Array.from(predicted.dataSync()).flatMap((c, i) => (c === ds.labels[i] ? [] : [i]));
      tf.dispose([x, predicted]);
      expect(m.cleanWrong).toEqual(wrong);
      for (const r of m.results) {
        expect(r.broken).toEqual([...new Set(r.broken)].sort((a, b) => a - b));
        expect(r.broken.every((i) => i >= 0 && i < ds.count && !m.cleanWrong.includes(i))).toBe(true);
        expect(r.correct).toBe(ds.count - m.cleanWrong.length - r.broken.length);
      }
      // Each union is exactly the images no attack of it broke.
      for (const u of m.unions) {
        const members = m.results.filter(
          (r) => r.scale === u.scale && (u.norm === 'all' || r.norm === u.norm),
        );
        const lost = new Set([...m.cleanWrong, ...members.flatMap((r) => r.broken)]);
        expect(u.correct).toBe(ds.count - lost.size);
      }
    }
    expect(result.models[0].cleanWrong).toEqual([]);
    expect(result.models[0].results.some((r) => r.broken.length > 0)).toBe(true);
  });

  it('breaks the same images as FGSM run here on all images at once (FGSM has no random start)', () => {
    const fgsm = result.models.flatMap((m) => m.results.filter((r) => r.attack === 'fgsm'));
    expect(fgsm.some((r) => r.broken.length > 0)).toBe(true);
    for (const [t, m] of result.models.entries()) {
      for (const r of m.results.filter((r) => r.attack === 'fgsm')) {
        const x = tf.tensor4d(
          Float32Array.from(ds.images, (v) => v / 255),
          [ds.count, ...SHAPE],
        );
        const y = tf.tensor1d(ds.labels, 'int32');
        const adv = createAttack({ name: 'fgsm', norm: r.norm, eps: r.eps }, new Rng(0)).attack(
          targets[t].model,
          x,
          y,
        );
        const predicted = tf.tidy(() => tf.argMax(targets[t].model.forward(adv, { training: false }), 1));
        const expected = Array.from(predicted.dataSync()).flatMap((c, i) =>
          c !== ds.labels[i] && !m.cleanWrong.includes(i) ? [i] : [],
        );
        tf.dispose([x, y, adv, predicted]);
        expect(r.broken).toEqual(expected);
      }
    }
  });

  it('times each attack on each model, and hands over each model as soon as it is done', () => {
    for (const m of result.models) {
      for (const r of m.results) {
        const task = `${r.label} ${r.norm} eps ${+r.eps.toPrecision(4)}`;
        const iterations = progress.filter(
          (p) => p.model === m.model && p.task === task && p.step !== undefined,
        );
        expect(r.seconds).toBeCloseTo(iterations.length / 1000, 9);
      }
      const all = progress.filter((p) => p.model === m.model && p.step !== undefined).length;
      expect(m.seconds).toBeCloseTo(all / 1000, 9);
    }
    expect(result.models.some((m) => m.results.some((r) => r.seconds > 0))).toBe(true);
    expect(result.seconds).toBeCloseTo(ticks / 1000, 9);
    expect(finished).toEqual(result.models);
    finished.forEach((m, i) => expect(m).toBe(result.models[i]));
  });

  it('is deterministic: the same seed gives the same numbers', () => {
    const again = runEvalSuite(targets.slice(0, 1), ds, { ...spec, attacks: spec.attacks.slice(1, 3) });
    const first = result.models[0].results.filter((r) => r.attack === 'pgd' || r.attack === 'apgd-ce');
    expect(again.models[0].results.map((r) => r.correct)).toEqual(first.map((r) => r.correct));
  });

  it('rejects bad specs with a message naming the problem', () => {
    const bad: [Partial<EvalSuiteSpec>, RegExp][] = [
      [{ attacks: [] }, /name at least one attack/],
      [{ eps: {} }, /give an eps for at least one norm/],
      [{ eps: { linf: -1 } }, /eps for linf must be a number > 0/],
      [{ eps: { l3: 1 } as never }, /unknown norm 'l3'/],
      [{ scales: [0] }, /scales must be numbers > 0/],
      [{ attacks: [{ name: 'apgd-t', targetClasses: 0 }] }, /targetClasses must be an integer ≥ 1/],
      [{ attacks: [{ name: 'nope' as never }] }, /unknown attack 'nope'/],
    ];
    for (const [override, message] of bad)
      expect(() => runEvalSuite(targets, ds, { ...spec, ...override })).toThrow(message);
  });
});

describe('unionCorrect', () => {
  it('is the per-sample AND of clean and every attack', () => {
    const clean = Uint8Array.from([1, 1, 1, 0]);
    expect(
      Array.from(unionCorrect([Uint8Array.from([1, 0, 1, 1]), Uint8Array.from([1, 1, 0, 1])], clean)),
    ).toEqual([1, 0, 0, 0]);
    expect(() => unionCorrect([new Uint8Array(3)], clean)).toThrow(/3 samples vs 4/);
  });
});

describe('EnsembleModel', () => {
  it('averages the members’ logits, exposes their prefixed variables, and lets gradients through every member', () => {
    const a = new TinyConvNet(SHAPE, 4, 2, 5);
    const b = new TinyConvNet(SHAPE, 4, 2, 6);
    const ens = new EnsembleModel([a, b]);
    const x = tf.randomUniform([3, ...SHAPE]) as tf.Tensor4D;
    const mode = { training: false };
    const expected = tf.tidy(() => tf.mul(tf.add(a.forward(x, mode), b.forward(x, mode)), 0.5));
    const got = ens.forward(x, mode);
    expect(
      Array.from(got.dataSync())
        .map((v, i) => v - expected.dataSync()[i])
        .every((d) => Math.abs(d) < 1e-6),
    ).toBe(true);
    expect(ens.params.map((p) => p.name)).toEqual([
      ...a.params.map((p) => `peer0.${p.name}`),
      ...b.params.map((p) => `peer1.${p.name}`),
    ]);
    const g = tf.grad((xi: tf.Tensor) => tf.sum(ens.forward(xi as tf.Tensor4D, mode)))(x);
    const ga = tf.grad((xi: tf.Tensor) => tf.sum(a.forward(xi as tf.Tensor4D, mode)))(x);
    const gb = tf.grad((xi: tf.Tensor) => tf.sum(b.forward(xi as tf.Tensor4D, mode)))(x);
    const diff = tf.max(tf.abs(tf.sub(g, tf.mul(tf.add(ga, gb), 0.5)))).dataSync()[0];
    expect(diff).toBeLessThan(1e-6);
    ens.dispose(); // does not dispose the members
    expect(() => a.forward(x, mode).dispose()).not.toThrow();
    expect(() => new EnsembleModel([a, new TinyConvNet(SHAPE, 3, 2, 1)])).toThrow(
      /ensemble: model 1 takes \[8,8,1\] → 3 classes/,
    );
    expect(() => new EnsembleModel([])).toThrow(/at least one model/);
    tf.dispose([x, expected, got, g, ga, gb]);
    a.dispose();
    b.dispose();
  });

  it('has documented default radii per dataset', () => {
    expect(defaultEvalEps('fashion-mnist')).toEqual({ linf: 0.1, l2: 1.5, l1: 10 });
    expect(defaultEvalEps('cifar10').linf).toBeCloseTo(8 / 255, 12);
    expect(() => defaultEvalEps('svhn')).toThrow(
      /no default eval eps for dataset 'svhn'; known: fashion-mnist/,
    );
  });
});
