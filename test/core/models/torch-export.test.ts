/**
 * PyTorch export, checked with PyTorch itself: every architecture's model, with deterministic non-trivial
 * weights and batch-norm statistics, is written with exportWeightsForPyTorch; the real PyTorch reference model
 * (scripts/reference/torch_models.py) loads it with load_state_dict(strict=True) through
 * scripts/reference/check_pytorch_export.py and its eval-mode logits must equal MAT's to float32 rounding.
 */
import '@tensorflow/tfjs-backend-cpu';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import {
  applyEntriesToModel,
  createModel,
  decodeTensorFile,
  exportWeightsForPyTorch,
  fromPyTorchEntries,
  type Model,
} from '@mat/core';
import { loadTorchFixture, referenceInput, referenceTorchEntries } from './reference-weights';

const SCRIPT = path.join(__dirname, '..', '..', '..', 'scripts', 'reference', 'check_pytorch_export.py');
const fixture = loadTorchFixture();

interface TorchCheck {
  file: string;
  loader: string;
  metadata: Record<string, string>;
  numBatchesTracked: Record<string, [string, number]>;
  inputShape: number[];
  logits: number[];
}

/** One Python process for every file (importing torch takes seconds). */
function runTorch(files: string[], inputSeed: number, batch: number): TorchCheck[] {
  const r = spawnSync(
    '/usr/bin/python3',
    [SCRIPT, ...files, '--input-seed', String(inputSeed), '--batch', String(batch)],
    { encoding: 'utf8', cwd: path.dirname(SCRIPT), timeout: 600000 },
  );
  if (r.status !== 0)
    throw new Error(`check_pytorch_export.py failed (${r.status}):\n${r.stderr}${r.error ?? ''}`);
  return r.stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as TorchCheck);
}

const CASES = [
  { key: 'fmnist-cnn', arch: 'fmnist-cnn', options: {}, shape: [28, 28, 1] },
  { key: 'preact-resnet18', arch: 'preact-resnet18', options: {}, shape: [32, 32, 3] },
  { key: 'resnet18', arch: 'resnet18', options: {}, shape: [32, 32, 3] },
  { key: 'wide-resnet-16-2', arch: 'wide-resnet', options: { depth: 16, widen: 2 }, shape: [32, 32, 3] },
] as const;

const BATCH = 3;
const INPUT_SEED = 7;
const BATCHES_TRACKED = 1234;

let dir: string;
const models = new Map<string, Model>();
const checks = new Map<string, TorchCheck>();

beforeAll(() => {
  tf.setBackend('cpu');
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mat-torch-export-'));
  const files = CASES.map(({ key, arch, options, shape }) => {
    const model = createModel(arch, { seed: 0, skipInit: true, inputShape: [...shape], ...options });
    // Values unlike any initialisation (batch-norm statistics too), so a swapped or transposed tensor shows.
    const reference = referenceTorchEntries(fixture.stateDicts[key], 97);
    applyEntriesToModel(model, fromPyTorchEntries(model, reference), 'reference weights');
    models.set(key, model);
    const file = path.join(dir, `${key}.safetensors`);
    const size = Object.fromEntries(Object.entries(options).map(([k, v]) => [k, String(v)]));
    exportWeightsForPyTorch(model, file, size, BATCHES_TRACKED);
    return file;
  });
  runTorch(files, INPUT_SEED, BATCH).forEach((check, i) => checks.set(CASES[i].key, check));
});
afterAll(() => {
  models.forEach((m) => m.dispose());
  fs.rmSync(dir, { recursive: true, force: true });
});

describe.each(CASES)('$key exported for PyTorch', ({ key, arch, shape }) => {
  it('loads strictly, with an int64 num_batches_tracked per batch norm', () => {
    const model = models.get(key) as Model;
    const torch = checks.get(key) as TorchCheck;
    const bns = model.buffers.filter((b) => b.name.endsWith('.runningMean')).length;
    expect(Object.keys(torch.numBatchesTracked)).toHaveLength(bns);
    for (const [dtype, value] of Object.values(torch.numBatchesTracked)) {
      expect(dtype).toBe('torch.int64');
      expect(value).toBe(BATCHES_TRACKED);
    }
    const { tensors } = decodeTensorFile(fs.readFileSync(torch.file), torch.file);
    for (const name of Object.keys(torch.numBatchesTracked)) expect(tensors.get(name)?.dtype).toBe('int64');
    expect(torch.metadata).toMatchObject({ format: 'mat-weights-pytorch', arch });
  });

  it("gives MAT's eval-mode logits to float32 rounding", () => {
    const model = models.get(key) as Model;
    const torch = checks.get(key) as TorchCheck;
    const x = tf.tensor4d(referenceInput(INPUT_SEED, BATCH, [...shape]), [BATCH, ...shape]);
    const logits = model.forward(x, { training: false });
    const ours = Array.from(logits.dataSync());
    tf.dispose([x, logits]);
    expect(torch.inputShape).toEqual([BATCH, shape[2], shape[0], shape[1]]);
    expect(torch.logits).toHaveLength(ours.length);
    const scale = Math.max(1, ...ours.map(Math.abs));
    const worst = Math.max(...ours.map((v, i) => Math.abs(v - torch.logits[i])));
    // float32 has a 2^-24 ≈ 6e-8 relative step; summation orders differ over thousands of terms per layer.
    expect(worst / scale).toBeLessThan(1e-5); // measured: 2.5e-7 to 1.4e-6
    // A mapping error moves logits by far more than that; and the weights must matter at all.
    expect(Math.max(...ours) - Math.min(...ours)).toBeGreaterThan(1e-2);
  });
});
