import * as fs from 'fs';
import * as path from 'path';
import { parseRunConfig, type ModelEvalResult, type Norm } from '@mat/core';
import type { EvalFile } from '../../packages/cli/src/eval/eval-file';

/**
 * A synthetic run directory as `mat train` + `mat eval` leave it: config.json, metrics.jsonl (600 steps of
 * 2 peers, 3 evaluations, and a half-written last line as after a crash), summary.json and two eval files
 * (one at a single radius with 4 attacks and 3 norms, one with a sweep of 3 radii over linf and l2).
 */
export function writeSyntheticRun(dir: string): string {
  const runDir = path.join(dir, 'synthetic');
  fs.mkdirSync(runDir, { recursive: true });
  const config = parseRunConfig({
    name: 'synthetic',
    peers: 2,
    mp: {
      strategy: 'fixed',
      attacks: [
        { norm: 'linf', eps: 0.1 },
        { norm: 'l2', eps: 1.5 },
      ],
    },
  });
  fs.writeFileSync(path.join(runDir, 'config.json'), JSON.stringify(config, null, 2));
  const lines: string[] = [];
  for (let step = 1; step <= 600; step++) {
    const peers = [0, 1].map((peer) => ({
      peer,
      loss: 2.3 * Math.exp(-step / (200 + 50 * peer)) + 0.4,
      base: 2 * Math.exp(-step / 200) + 0.3,
      distill: 0.1,
      advAccuracy: 0.7 * (1 - Math.exp(-step / 150)) - 0.05 * peer,
    }));
    lines.push(
      JSON.stringify({
        type: 'step',
        step,
        totalSteps: 600,
        epoch: Math.floor((step - 1) / 200),
        lr: 0.05,
        seconds: 0.2,
        peers,
      }),
    );
    if (step % 200 === 0) {
      lines.push(
        JSON.stringify({
          type: 'eval',
          step,
          epoch: step / 200 - 1,
          final: step === 600,
          peers: [0, 1].map((peer) => ({
            peer,
            count: 100,
            cleanAccuracy: 0.6 + step / 3000,
            robustAccuracy: 0.3 + step / 4000 - 0.02 * peer,
          })),
        }),
      );
    }
  }
  fs.writeFileSync(path.join(runDir, 'metrics.jsonl'), lines.join('\n') + '\n{"type":"step","st');
  fs.writeFileSync(
    path.join(runDir, 'summary.json'),
    JSON.stringify({
      metadata: { backend: { name: 'native' } },
      runDir,
      stepsDone: 600,
      totalSteps: 600,
      stoppedEarly: false,
      seconds: 120,
      imagesPerSecond: 1280,
      timing: { waitingSeconds: 0, trainingSeconds: 96, evaluationSeconds: 18, recoverySeconds: 6 },
      history: { generations: 2, rollbacks: 0, lostWorkers: 1, stepsRedone: 7 },
    }),
  );
  writeEval(
    runDir,
    'eval-step600-pgd+apgd-ce+apgd-t+square-linf+l2+l1.json',
    ['pgd', 'apgd-ce', 'apgd-t', 'square'],
    { linf: 0.1, l2: 1.5, l1: 10 },
    [1],
  );
  writeEval(
    runDir,
    'eval-step600-pgd+apgd-ce-linf+l2.json',
    ['pgd', 'apgd-ce'],
    { linf: 0.1, l2: 1.5 },
    [0.5, 1, 2],
  );
  return runDir;
}

const LABEL: Record<string, string> = {
  pgd: 'PGD-20',
  'apgd-ce': 'APGD-CE',
  'apgd-t': 'APGD-T',
  square: 'Square-1000',
};

function writeEval(
  runDir: string,
  name: string,
  attacks: string[],
  eps: Partial<Record<Norm, number>>,
  scales: number[],
): void {
  const norms = Object.keys(eps) as Norm[];
  const model = (label: string, offset: number): ModelEvalResult => {
    const results = norms.flatMap((norm, n) =>
      attacks
        .filter((a) => !(a === 'square' && norm === 'l1'))
        .flatMap((attack, a) =>
          scales.map((scale) => {
            const accuracy = Math.max(0, 0.7 - 0.25 * scale - 0.03 * a - 0.05 * n + offset);
            return {
              attack: attack as never,
              label: LABEL[attack],
              norm,
              eps: (eps[norm] as number) * scale,
              scale,
              accuracy,
              correct: Math.round(accuracy * 100),
              broken: [],
              seconds: 1,
            };
          }),
        ),
    );
    const unions = scales.flatMap((scale) => {
      const atScale = results.filter((r) => r.scale === scale);
      const perNorm = norms.map((norm) => {
        const rs = atScale.filter((r) => r.norm === norm);
        const accuracy = Math.min(...rs.map((r) => r.accuracy)) - 0.01;
        return {
          norm,
          eps: (eps[norm] as number) * scale,
          scale,
          accuracy,
          correct: Math.round(accuracy * 100),
          attacks: rs.map((r) => `${r.label} ${norm}`),
        };
      });
      const all = Math.min(...perNorm.map((u) => u.accuracy)) - 0.02;
      return [
        ...perNorm,
        {
          norm: 'all' as const,
          scale,
          accuracy: all,
          correct: Math.round(all * 100),
          attacks: atScale.map((r) => `${r.label} ${r.norm}`),
        },
      ];
    });
    return {
      model: label,
      peer: label.startsWith('peer') ? Number(label.slice(5)) : undefined,
      count: 100,
      cleanAccuracy: 0.8 + offset,
      cleanWrong: [],
      results,
      unions,
      seconds: results.length,
    };
  };
  const file: EvalFile = {
    kind: 'mat-eval',
    version: 1,
    run: 'synthetic',
    checkpoint: path.join(runDir, 'checkpoints', 'step-00000600'),
    step: 600,
    dataset: 'fashion-mnist',
    backend: 'native',
    createdAt: new Date(2025, 0, 1, 0, 0, scales.length).toISOString(),
    count: 100,
    seed: 0,
    eps,
    scales,
    attacks: attacks.map((a) => ({ name: a as never, label: LABEL[a] })),
    skipped:
      norms.includes('l1') && attacks.includes('square')
        ? [{ attack: 'square', norm: 'l1', reason: 'square is not defined for l1' }]
        : [],
    models: [model('peer 0', 0), model('peer 1', -0.02), model('ensemble', 0.03)],
    seconds: 60,
  };
  fs.writeFileSync(path.join(runDir, name), JSON.stringify(file));
}
