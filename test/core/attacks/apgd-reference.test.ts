import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { apgdRun, crossEntropyPerSample, dlrPerSample, targetedDlrPerSample, type Norm } from '@mat/core';
import { TinyMlp } from '../helpers/tiny-models';

/**
 * apgdRun against the authors' APGD (fra31/auto-attack autopgd_base.py, attack_single_run) on a tiny MLP,
 * from the same start noise: fixture written by scripts/reference/make_apgd_fixture.py.
 */
interface Fixture {
  shape: [number, number, number];
  classes: number;
  hidden: number;
  weights: { w1: number[]; b1: number[]; w2: number[]; b2: number[] };
  x: number[];
  y: number[];
  targets: number[];
  cases: Array<{
    norm: Norm;
    loss: 'ce' | 'dlr' | 'dlr-targeted';
    eps: number;
    steps: number;
    noise: number[];
    xBest: number[];
    xBestAdv: number[];
    lossBest: number[];
    fooled: number[];
  }>;
}

const fixture: Fixture = JSON.parse(
  fs.readFileSync(path.join(__dirname, '..', '..', 'fixtures', 'attacks', 'apgd-reference.json'), 'utf8'),
);

describe('apgdRun vs the reference implementation', () => {
  const [h, w, c] = fixture.shape;
  const batch = fixture.y.length;
  const model = new TinyMlp(fixture.shape, fixture.classes, fixture.hidden, 0);
  const { w1, b1, w2, b2 } = fixture.weights;
  model.params[0].variable.assign(tf.tensor2d(w1, [h * w * c, fixture.hidden]));
  model.params[1].variable.assign(tf.tensor1d(b1));
  model.params[2].variable.assign(tf.tensor2d(w2, [fixture.hidden, fixture.classes]));
  model.params[3].variable.assign(tf.tensor1d(b2));
  const x = tf.tensor4d(fixture.x, [batch, h, w, c]);
  const y = tf.tensor1d(fixture.y, 'int32');
  const targets = tf.tensor1d(fixture.targets, 'int32');
  afterAll(() => {
    model.dispose();
    tf.dispose([x, y, targets]);
  });

  it.each(fixture.cases)('$norm $loss eps $eps, $steps steps', (ref) => {
    const objective = (logits: tf.Tensor2D) =>
      ref.loss === 'ce'
        ? crossEntropyPerSample(logits, y)
        : ref.loss === 'dlr'
          ? dlrPerSample(logits, y)
          : targetedDlrPerSample(logits, y, targets);
    const res = apgdRun(model, x, y, objective, {
      norm: ref.norm,
      eps: ref.eps,
      steps: ref.steps,
      rho: 0.75,
      mode: { training: false },
      start: { noise: Float32Array.from(ref.noise) },
    });
    expect(Array.from(res.fooled)).toEqual(ref.fooled);
    Array.from(res.lossBest).forEach((l, i) => expect(l).toBeCloseTo(ref.lossBest[i], 4));
    const xBest = res.xBest.dataSync();
    const xBestAdv = res.xBestAdv.dataSync();
    let maxDiff = 0;
    let maxDiffAdv = 0;
    ref.xBest.forEach((v, i) => (maxDiff = Math.max(maxDiff, Math.abs(v - xBest[i]))));
    ref.xBestAdv.forEach((v, i) => (maxDiffAdv = Math.max(maxDiffAdv, Math.abs(v - xBestAdv[i]))));
    expect(maxDiff).toBeLessThan(1e-4);
    expect(maxDiffAdv).toBeLessThan(1e-4);
    tf.dispose([res.xBest, res.xBestAdv]);
  });
});
