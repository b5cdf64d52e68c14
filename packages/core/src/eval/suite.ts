import * as tf from '@tensorflow/tfjs-core';
import {
  ATTACK_NAMES,
  ATTACK_NORMS,
  attackLabel,
  createAttack,
  NORMS,
  type AttackName,
  type AttackSpec,
  type Norm,
} from '../attacks';
import type { Dataset } from '../data';
import { EVAL_MODE, type Model } from '../models/model';
import { Rng } from '../rng';
import { datasetBatch } from '../train/evaluate';
import { countOnes, unionCorrect } from './union';

/** One attack of a suite, without norm and eps: the suite runs it at every norm (and radius) it supports. */
export interface SuiteAttack {
  name: AttackName;
  /** Iterations (square: queries). @defaultValue the attack's default (pgd/cw 10, apgd 100, square 1000) */
  steps?: number;
  /** @defaultValue 1 */
  restarts?: number;
  /** apgd-t only. @defaultValue 9 */
  targetClasses?: number;
  /** square only. @defaultValue 0.8 */
  pInit?: number;
}

export interface EvalSuiteSpec {
  attacks: SuiteAttack[];
  /** Radius per norm; the suite evaluates exactly these norms. */
  eps: Partial<Record<Norm, number>>;
  /** Multiples of every radius for accuracy-vs-eps curves; the unions are computed at each. @defaultValue [1] */
  scales?: number[];
  batchSize: number;
  /** Seeds every attack's random stream (the same for every model, so the models meet the same starts). */
  seed: number;
}

/** A model to evaluate and the name its results go under, e.g. "peer 0" or "ensemble". */
export interface EvalTarget {
  name: string;
  /** The peer index, for a single peer. */
  peer?: number;
  model: Model;
}

export interface AttackResult {
  attack: AttackName;
  /** e.g. "APGD-CE", "PGD-20". */
  label: string;
  norm: Norm;
  eps: number;
  scale: number;
  /** Fraction of samples correct on the clean input and under this attack. */
  accuracy: number;
  correct: number;
  /**
   * The images this attack broke: indices (0-based, into the evaluated images, ascending) of the images the
   * model classifies correctly when clean and wrongly under this attack.
   */
  broken: number[];
  /** Wall-clock seconds this attack took on this model (crafting and classifying its examples). */
  seconds: number;
}

export interface UnionResult {
  /** The norm whose attacks are combined, or 'all' for every norm and attack at this scale. */
  norm: Norm | 'all';
  /** The radius, for a single norm. */
  eps?: number;
  scale: number;
  accuracy: number;
  correct: number;
  /** The attacks combined, e.g. ["PGD-20 linf", "APGD-CE linf"]. */
  attacks: string[];
}

export interface ModelEvalResult {
  model: string;
  peer?: number;
  count: number;
  cleanAccuracy: number;
  /** Indices (ascending) of the images the model misclassifies without any attack. */
  cleanWrong: number[];
  results: AttackResult[];
  unions: UnionResult[];
  /** Wall-clock seconds spent on this model (clean pass and every attack). */
  seconds: number;
}

export interface EvalSuiteResult {
  count: number;
  seed: number;
  eps: Partial<Record<Norm, number>>;
  scales: number[];
  attacks: Array<SuiteAttack & { label: string }>;
  /** Attack × norm pairs left out because the attack is not defined for the norm. */
  skipped: Array<{ attack: AttackName; norm: Norm; reason: string }>;
  models: ModelEvalResult[];
  seconds: number;
}

export interface EvalProgress {
  model: string;
  /** e.g. "APGD-T linf eps 0.1". */
  task: string;
  batch: number;
  batches: number;
  /** Iterations of the current attack on the current batch, when the attack reports them. */
  step?: number;
  steps?: number;
  /** Attack runs (attack × norm × scale × batch) done over all models, of `total`. */
  done: number;
  total: number;
}

export interface EvalSuiteHooks {
  /** Called as attack runs progress (per attack iteration when the attack reports them, and per batch). */
  onProgress?: (p: EvalProgress) => void;
  /** Called with each model's results as soon as they are complete. */
  onModelDone?: (result: ModelEvalResult) => void;
  /** Milliseconds from any origin, for the timings. @defaultValue performance.now */
  now?: () => number;
}

/** A purpose tag for the suite's random streams ("eval" in ASCII), distinct from the trainer's streams. */
const SUITE_STREAM = 0x6576616c;

interface Cell {
  attack: SuiteAttack;
  /** Identifies the attack's random stream: its name, and which of the suite's attacks of that name it is. */
  stream: [number, number];
  norm: Norm;
  eps: number;
  scale: number;
  /** The scale in millionths, for the random stream. */
  scaleKey: number;
}

/**
 * Robust accuracy of each target under every attack × norm × radius of the suite, and the per-sample
 * worst case ("union") over the attacks of each norm and over all norms. Attacks only run on the samples
 * the target classifies correctly (the others count as wrong anyway), in eval mode, batch by batch.
 * Attack random streams depend on (seed, attack name, norm, scale, batch) only — not on the target nor on
 * the other attacks of the suite — so each peer and the ensemble meet the same starts, and an attack gives
 * the same numbers whether it runs alone or with others.
 */
export function runEvalSuite(
  targets: readonly EvalTarget[],
  ds: Dataset,
  spec: EvalSuiteSpec,
  hooks: EvalSuiteHooks = {},
): EvalSuiteResult {
  const now = hooks.now ?? (() => performance.now());
  const started = now();
  const { cells, skipped, scales } = planCells(spec);
  const batches = Math.ceil(ds.count / spec.batchSize);
  const total = targets.length * batches * cells.length;
  let done = 0;

  const models = targets.map((target): ModelEvalResult => {
    const modelStarted = now();
    const clean = new Uint8Array(ds.count);
    const perCell = cells.map(() => new Uint8Array(ds.count));
    const cellMs = cells.map(() => 0);
    for (let b = 0, start = 0; start < ds.count; b++, start += spec.batchSize) {
      const { x, y } = datasetBatch(ds, start, spec.batchSize);
      try {
        const cleanOk = correctFlags(target.model, x, y);
        clean.set(cleanOk, start);
        const keep = indicesWhere(cleanOk.length, (i) => cleanOk[i] === 1);
        const idx = tf.tensor1d(keep, 'int32');
        const xs = tf.gather(x, idx) as tf.Tensor4D;
        const ys = tf.gather(y, idx) as tf.Tensor1D;
        try {
          cells.forEach((cell, c) => {
            const task = `${attackLabel(cell.attack)} ${cell.norm} eps ${+cell.eps.toPrecision(4)}`;
            const report = (step?: number, steps?: number) =>
              hooks.onProgress?.({
                model: target.name,
                task,
                batch: b + 1,
                batches,
                step,
                steps,
                done,
                total,
              });
            const cellStarted = now();
            if (keep.length > 0) {
              const attack = createAttack(
                attackSpec(cell),
                Rng.derive(
                  spec.seed,
                  SUITE_STREAM,
                  ...cell.stream,
                  NORMS.indexOf(cell.norm),
                  cell.scaleKey,
                  b,
                ),
                { onProgress: (step, steps) => report(step, steps) },
              );
              const adv = attack.attack(target.model, xs, ys);
              const advOk = correctFlags(target.model, adv, ys);
              adv.dispose();
              keep.forEach((sample, k) => (perCell[c][start + sample] = advOk[k]));
            }
            cellMs[c] += now() - cellStarted;
            done++;
            report();
          });
        } finally {
          tf.dispose([idx, xs, ys]);
        }
      } finally {
        tf.dispose([x, y]);
      }
    }
    const result = summarise(target, clean, cells, perCell, scales, ds.count);
    result.results.forEach((r, c) => (r.seconds = cellMs[c] / 1000));
    result.seconds = (now() - modelStarted) / 1000;
    hooks.onModelDone?.(result);
    return result;
  });

  return {
    count: ds.count,
    seed: spec.seed,
    eps: { ...spec.eps },
    scales,
    attacks: spec.attacks.map((a) => ({ ...a, label: attackLabel(a) })),
    skipped,
    models,
    seconds: (now() - started) / 1000,
  };
}

/** Checks the spec and lists the attack × norm × scale cells, norms in the order linf, l2, l1. */
function planCells(spec: EvalSuiteSpec): {
  cells: Cell[];
  skipped: EvalSuiteResult['skipped'];
  scales: number[];
} {
  if (spec.attacks.length === 0) throw new Error('eval: name at least one attack');
  for (const key of Object.keys(spec.eps)) {
    if (!NORMS.includes(key as Norm))
      throw new Error(`eval: unknown norm '${key}'; known: ${NORMS.join(', ')}`);
  }
  const norms = NORMS.filter((n) => spec.eps[n] !== undefined);
  if (norms.length === 0) throw new Error('eval: give an eps for at least one norm (linf, l2, l1)');
  for (const n of norms) {
    const eps = spec.eps[n] as number;
    if (!(eps > 0) || !Number.isFinite(eps))
      throw new Error(`eval: eps for ${n} must be a number > 0, got ${eps}`);
  }
  const scales = spec.scales ?? [1];
  if (scales.length === 0 || scales.some((s) => !(s > 0) || !Number.isFinite(s))) {
    throw new Error(`eval: eps scales must be numbers > 0, got [${scales}]`);
  }
  if (!Number.isInteger(spec.batchSize) || spec.batchSize < 1)
    throw new Error(`eval: batchSize must be an integer ≥ 1, got ${spec.batchSize}`);
  const cells: Cell[] = [];
  const skipped: EvalSuiteResult['skipped'] = [];
  for (const norm of norms) {
    spec.attacks.forEach((attack, attackIndex) => {
      const sameName = spec.attacks.slice(0, attackIndex).filter((a) => a.name === attack.name).length;
      const stream: [number, number] = [ATTACK_NAMES.indexOf(attack.name), sameName];
      if (!ATTACK_NORMS[attack.name]) throw new Error(`eval: unknown attack '${attack.name}'`);
      if (!ATTACK_NORMS[attack.name].includes(norm)) {
        skipped.push({ attack: attack.name, norm, reason: `${attack.name} is not defined for ${norm}` });
        return;
      }
      scales.forEach((scale) =>
        cells.push({
          attack,
          stream,
          norm,
          eps: (spec.eps[norm] as number) * scale,
          scale,
          scaleKey: Math.round(scale * 1e6),
        }),
      );
    });
  }
  // Build each attack once up front so that a bad option fails before any work is done.
  for (const cell of cells) createAttack(attackSpec(cell), new Rng(0));
  return { cells, skipped, scales };
}

function attackSpec(cell: Cell): AttackSpec {
  const { name, steps, restarts, targetClasses, pInit } = cell.attack;
  return { name, norm: cell.norm, eps: cell.eps, steps, restarts, targetClasses, pInit };
}

function summarise(
  target: EvalTarget,
  clean: Uint8Array,
  cells: Cell[],
  perCell: Uint8Array[],
  scales: number[],
  count: number,
): ModelEvalResult {
  const fraction = (n: number) => (count > 0 ? n / count : 0);
  const name = (cell: Cell) => `${attackLabel(cell.attack)} ${cell.norm}`;
  const results = cells.map((cell, c): AttackResult => {
    const survived = unionCorrect([perCell[c]], clean);
    const correct = countOnes(survived);
    return {
      attack: cell.attack.name,
      label: attackLabel(cell.attack),
      norm: cell.norm,
      eps: cell.eps,
      scale: cell.scale,
      accuracy: fraction(correct),
      correct,
      broken: indicesWhere(count, (i) => clean[i] === 1 && survived[i] === 0),
      seconds: 0,
    };
  });
  const unions: UnionResult[] = [];
  const union = (members: number[], norm: Norm | 'all', scale: number, eps?: number) => {
    const correct = countOnes(
      unionCorrect(
        members.map((c) => perCell[c]),
        clean,
      ),
    );
    unions.push({
      norm,
      eps,
      scale,
      accuracy: fraction(correct),
      correct,
      attacks: members.map((c) => name(cells[c])),
    });
  };
  for (const scale of scales) {
    const atScale = cells.map((cell, c) => ({ cell, c })).filter(({ cell }) => cell.scale === scale);
    const norms = [...new Set(atScale.map(({ cell }) => cell.norm))];
    for (const norm of norms) {
      const members = atScale.filter(({ cell }) => cell.norm === norm);
      union(
        members.map(({ c }) => c),
        norm,
        scale,
        members[0].cell.eps,
      );
    }
    union(
      atScale.map(({ c }) => c),
      'all',
      scale,
    );
  }
  const cleanCorrect = countOnes(clean);
  return {
    model: target.name,
    peer: target.peer,
    count,
    cleanAccuracy: fraction(cleanCorrect),
    cleanWrong: indicesWhere(count, (i) => clean[i] === 0),
    results,
    unions,
    seconds: 0,
  };
}

function correctFlags(model: Model, x: tf.Tensor4D, y: tf.Tensor1D): Uint8Array {
  const t = tf.tidy(() =>
    tf.cast(tf.equal(tf.argMax(model.forward(x, EVAL_MODE), 1), tf.cast(y, 'int32')), 'int32'),
  );
  const out = Uint8Array.from(t.dataSync());
  t.dispose();
  return out;
}

/** The indices i < count (ascending) for which `test(i)` holds. */
function indicesWhere(count: number, test: (i: number) => boolean): number[] {
  const out: number[] = [];
  for (let i = 0; i < count; i++) if (test(i)) out.push(i);
  return out;
}
