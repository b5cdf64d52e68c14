import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  evalFileName,
  formatEvalJson,
  readEvalFile,
  weightsEvalPath,
  writeEvalFile,
  type EvalFile,
  type WeightsEvalFile,
} from '../../packages/cli/src/eval/eval-file';

const result = {
  count: 4,
  seed: 0,
  eps: { linf: 0.1, l2: 1.5 },
  scales: [0.5, 1],
  attacks: [
    { name: 'pgd' as const, steps: 20, label: 'PGD-20' },
    { name: 'apgd-ce' as const, label: 'APGD-CE' },
  ],
  skipped: [],
  models: [
    {
      model: 'peer 0',
      peer: 0,
      count: 4,
      cleanAccuracy: 0.75,
      cleanWrong: [3],
      results: [
        {
          attack: 'pgd' as const,
          label: 'PGD-20',
          norm: 'linf' as const,
          eps: 0.1,
          scale: 1,
          accuracy: 0.25,
          correct: 1,
          broken: [0, 2],
          seconds: 1.5,
        },
      ],
      unions: [],
      seconds: 2,
    },
  ],
  seconds: 2.5,
};

const checkpointEval: EvalFile = {
  kind: 'mat-eval',
  version: 1,
  run: 'quick',
  checkpoint: 'runs/quick/checkpoints/step-00000240',
  step: 240,
  dataset: 'fashion-mnist',
  backend: 'native',
  createdAt: '2026-01-01T00:00:00.000Z',
  ...result,
};

describe('eval files', () => {
  let dir: string;
  beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mat-eval-file-'))));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('names files after the step, the attacks and the norms', () => {
    expect(evalFileName(240, result)).toBe('eval-step240-pgd+apgd-ce-linf+l2.json');
    expect(weightsEvalPath('out/peer0-step240.pytorch.safetensors', result)).toBe(
      'out/peer0-step240.pytorch.eval-pgd+apgd-ce-linf+l2.json',
    );
  });

  it('keeps number lists on one line and every string as it was', () => {
    const tricky = { ...checkpointEval, run: 'a [\n 1,\n 2\n] b', scales: [0.5, 1e-7, -2] };
    const text = formatEvalJson(tricky);
    expect(JSON.parse(text)).toEqual(tricky);
    expect(text).toContain('"broken": [0,2]');
    expect(text).toContain('"scales": [0.5,1e-7,-2]');
    expect(text).toContain('"cleanWrong": [3]');
    expect(text).toContain('"model": "peer 0"'); // still indented
  });

  it('writes atomically and reads back what the report needs', () => {
    const file = path.join(dir, 'sub', 'eval-step240-pgd+apgd-ce-linf+l2.json');
    writeEvalFile(file, checkpointEval);
    expect(fs.readdirSync(path.dirname(file))).toEqual([path.basename(file)]);
    expect(readEvalFile(file)).toEqual(checkpointEval);
  });

  it('replaces an eval file, but nothing else', () => {
    const file = path.join(dir, 'eval-again.json');
    writeEvalFile(file, checkpointEval);
    writeEvalFile(file, { ...checkpointEval, step: 241 });
    expect(readEvalFile(file).step).toBe(241);
    const model = path.join(dir, 'model.safetensors');
    fs.writeFileSync(model, 'not json');
    expect(() => writeEvalFile(model, checkpointEval)).toThrow(
      /model\.safetensors: exists and is not a mat eval file; remove it or choose another --out/,
    );
    expect(fs.readFileSync(model, 'utf8')).toBe('not json');
  });

  it('refuses, for a run report, a weights evaluation without a training step', () => {
    const weightsEval: WeightsEvalFile = {
      ...checkpointEval,
      run: null,
      checkpoint: null,
      step: null,
      weights: { file: 'resnet.safetensors', layout: 'pytorch', arch: 'resnet18', metadata: {} },
    };
    const file = path.join(dir, 'eval-weights.json');
    writeEvalFile(file, weightsEval);
    expect(() => readEvalFile(file)).toThrow(
      /eval-weights\.json: evaluates the weights file resnet\.safetensors, which has no training step/,
    );
    writeEvalFile(file, { ...weightsEval, run: 'quick', step: 240 });
    expect(readEvalFile(file).step).toBe(240);
  });
});
