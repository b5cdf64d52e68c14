/**
 * `mat export` and `mat eval --weights` as a user runs them, on a real (tiny) training run: the exported files
 * hold exactly the checkpoint's peer, PyTorch loads the PyTorch one strictly and computes MAT's logits, and
 * evaluating an exported file gives the same per-image results as evaluating that peer of the run.
 */
import '@tensorflow/tfjs-backend-cpu';
import { spawnSync } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import {
  createModel,
  decodeTensorFile,
  encodeTensorFile,
  findCommittedCheckpoint,
  loadWeightsFile,
  readCheckpointPeerWeights,
  writeFileAtomic,
} from '@mat/core';
import { referenceInput } from '../core/models/reference-weights';

const ROOT = path.join(__dirname, '..', '..');
const BIN = path.join(ROOT, 'packages', 'cli', 'dist', 'bin.js');
const CHECK = path.join(ROOT, 'scripts', 'reference', 'check_pytorch_export.py');

function mat(args: string[], cwd: string) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', timeout: 600000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function jsonLines(stdout: string): Array<Record<string, unknown>> {
  return stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

interface ModelResult {
  model: string;
  peer?: number;
  cleanAccuracy: number;
  cleanWrong: number[];
  results: Array<{ label: string; accuracy: number; broken: number[]; seconds: number }>;
}

describe('mat export and mat eval --weights', () => {
  let dir: string;
  let run: string;
  /** `mat export` of peer 1 in MAT layout (JSON log) and in PyTorch layout (text log). */
  let exported: { mat: ReturnType<typeof mat>; pytorch: ReturnType<typeof mat> };
  const evalFlags = ['--attacks', 'pgd,fgsm', '--steps', '3', '--test-subset', '60', '--batch-size', '25'];
  const backend = ['--backend', 'native'];

  beforeAll(() => {
    tf.setBackend('cpu');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mat-export-'));
    // 2 peers, 16 steps of batch 32 with PGD-1: enough for above-chance accuracy; checkpoints at 8 and 16.
    const r = mat(
      [
        'train',
        '--preset',
        'quick',
        '--name',
        'exp',
        '--train-subset',
        '512',
        '--test-subset',
        '60',
        '--batch-size',
        '32',
        '--attack-steps',
        '1',
        '--max-steps',
        '16',
        '--checkpoint-every',
        '8',
        '--set',
        'eval.everyEpoch=false',
        '--set',
        'eval.attack.steps=1',
        ...backend,
      ],
      dir,
    );
    if (r.code !== 0) throw new Error(`training failed: ${r.stderr}`);
    run = path.join(dir, 'runs', 'exp');
    exported = {
      mat: mat(['export', run, '--peer', '1', '--log-format', 'json'], dir),
      pytorch: mat(['export', run, '--peer', '1', '--format', 'pytorch'], dir),
    };
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('exports a peer in both layouts, with metadata, holding exactly the checkpoint weights', () => {
    let r = exported.mat;
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const [event] = jsonLines(r.stdout);
    expect(event).toMatchObject({ type: 'export', format: 'mat', run: 'exp', peer: 1, step: 16 });
    expect(event.file).toBe(path.join(run, 'exports', 'peer1-step16.safetensors'));

    r = exported.pytorch;
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /exported peer 1 of exp at step 16 \(fmnist-cnn, pytorch layout\): .*peer1-step16\.pytorch\.safetensors/,
    );

    const file = decodeTensorFile(
      fs.readFileSync(path.join(run, 'exports', 'peer1-step16.safetensors')),
      'export',
    );
    expect(file.metadata).toMatchObject({
      format: 'mat-weights',
      arch: 'fmnist-cnn',
      dataset: 'fashion-mnist',
      numClasses: '10',
      inputShape: '[28,28,1]',
      run: 'exp',
      peer: '1',
      step: '16',
      seed: '0',
    });
    const checkpoint = readCheckpointPeerWeights(findCommittedCheckpoint(run), 1);
    expect(file.entries.map((e) => e.name)).toEqual(checkpoint.entries.map((e) => e.name));
    file.entries.forEach((e, i) =>
      expect(Buffer.from(e.data.buffer).equals(Buffer.from(checkpoint.entries[i].data.buffer))).toBe(true),
    );

    // An older committed checkpoint by --step; its weights differ.
    r = mat(['export', run, '--peer', '1', '--step', '8', '--out', path.join(dir, 'old.safetensors')], dir);
    expect(r.code).toBe(0);
    const old = decodeTensorFile(fs.readFileSync(path.join(dir, 'old.safetensors')), 'old');
    expect(old.metadata.step).toBe('8');
    expect(Buffer.from(old.entries[0].data.buffer).equals(Buffer.from(file.entries[0].data.buffer))).toBe(
      false,
    );
  });

  it('PyTorch loads the pytorch export strictly and computes the same logits as MAT', () => {
    const torchFile = path.join(run, 'exports', 'peer1-step16.pytorch.safetensors');
    const r = spawnSync('/usr/bin/python3', [CHECK, torchFile, '--input-seed', '5', '--batch', '4'], {
      cwd: path.dirname(CHECK),
      encoding: 'utf8',
      timeout: 300000,
    });
    if (r.status !== 0) throw new Error(`check_pytorch_export.py failed: ${r.stderr}`);
    const torch = JSON.parse(r.stdout) as { logits: number[]; metadata: Record<string, string> };
    expect(torch.metadata).toMatchObject({ format: 'mat-weights-pytorch', peer: '1', step: '16' });

    const model = createModel('fmnist-cnn', { seed: 0, skipInit: true });
    loadWeightsFile(model, path.join(run, 'exports', 'peer1-step16.safetensors'));
    const x = tf.tensor4d(referenceInput(5, 4, [28, 28, 1]), [4, 28, 28, 1]);
    const logits = model.forward(x, { training: false });
    const ours = Array.from(logits.dataSync());
    tf.dispose([x, logits]);
    model.dispose();
    const scale = Math.max(1, ...ours.map(Math.abs));
    const worst = Math.max(...ours.map((v, i) => Math.abs(v - torch.logits[i])));
    expect(worst / scale).toBeLessThan(1e-5);
  });

  it('evaluating an exported file, or one from Python, gives the per-image results of that peer in the run', () => {
    const runEval = path.join(dir, 'run-eval.json');
    let r = mat(
      [
        'eval',
        run,
        ...evalFlags,
        ...backend,
        '--out',
        runEval,
        '--log-format',
        'json',
        '--progress-every',
        '0',
      ],
      dir,
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const events = jsonLines(r.stdout);
    const progress = events.filter((e) => e.type === 'eval-progress');
    // 3 models (2 peers + ensemble) × 3 batches × 2 attacks, one line per finished attack batch.
    expect(progress.map((e) => e.done)).toEqual(Array.from({ length: 18 }, (_, i) => i + 1));
    expect(progress.every((e) => e.total === 18 && typeof e.elapsedSeconds === 'number')).toBe(true);
    expect(events.filter((e) => e.type === 'eval-model').map((e) => e.model)).toEqual([
      'peer 0',
      'peer 1',
      'ensemble',
    ]);
    const suite = events.find((e) => e.type === 'eval-suite') as { models: Array<Record<string, unknown>> };
    expect(suite.models[0].cleanWrong).toBeUndefined(); // index lists stay in the file

    const fromRun = JSON.parse(fs.readFileSync(runEval, 'utf8'));
    const peer1 = fromRun.models[1] as ModelResult;
    expect(peer1.cleanAccuracy).toBeGreaterThan(0.2); // twice chance after 16 steps from PyTorch's init
    expect(peer1.results.some((res) => res.broken.length > 0)).toBe(true);
    expect(peer1.results.every((res) => res.seconds > 0)).toBe(true);

    for (const file of ['peer1-step16.safetensors', 'peer1-step16.pytorch.safetensors']) {
      r = mat(
        [
          'eval',
          '--weights',
          path.join(run, 'exports', file),
          ...evalFlags,
          ...backend,
          '--progress-every',
          '0',
        ],
        dir,
      );
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      // Text progress lines although stdout is a pipe, and a line per finished model.
      expect(r.stdout).toMatch(/^eval 1\/6 \(17%\) peer 1: PGD-3 linf eps 0\.1, batch 1\/3; /m);
      expect(r.stdout).toMatch(/^peer 1 done in \d+s: clean /m);
      const out = path.join(run, 'exports', file.replace(/\.safetensors$/, '.eval-pgd+fgsm-linf.json'));
      const saved = JSON.parse(fs.readFileSync(out, 'utf8'));
      expect(saved).toMatchObject({ run: 'exp', step: 16, weights: { arch: 'fmnist-cnn' } });
      // The identity of the weights measured: the file's sha256.
      const fileBytes = fs.readFileSync(path.join(run, 'exports', file));
      expect(saved.weightsSha256).toBe(createHash('sha256').update(fileBytes).digest('hex'));
      const m = saved.models[0] as ModelResult;
      expect(saved.models).toHaveLength(1);
      expect(m.model).toBe('peer 1');
      expect(m.cleanWrong).toEqual(peer1.cleanWrong);
      expect(m.results.map((res) => [res.label, res.accuracy, res.broken])).toEqual(
        peer1.results.map((res) => [res.label, res.accuracy, res.broken]),
      );
    }

    // A file without metadata, as Python's safetensors.torch.save_file writes it: --arch and --dataset say.
    const source = path.join(run, 'exports', 'peer1-step16.pytorch.safetensors');
    const { entries } = decodeTensorFile(fs.readFileSync(source), source);
    const bare = path.join(dir, 'bare.safetensors');
    writeFileAtomic(bare, encodeTensorFile(entries, { format: 'pt' }));
    r = mat(['eval', '--weights', bare, ...evalFlags, ...backend], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /bare\.safetensors: no arch in the file's metadata; name the architecture with --arch/,
    );
    r = mat(['eval', '--weights', bare, '--arch', 'fmnist-cnn', ...evalFlags, ...backend], dir);
    expect(r.stderr).toMatch(/no dataset in the file's metadata; name it with --dataset/);
    r = mat(
      [
        'eval',
        '--weights',
        bare,
        '--arch',
        'fmnist-cnn',
        '--dataset',
        'fashion-mnist',
        ...evalFlags,
        ...backend,
      ],
      dir,
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const saved = JSON.parse(fs.readFileSync(path.join(dir, 'bare.eval-pgd+fgsm-linf.json'), 'utf8'));
    expect(saved).toMatchObject({ run: null, checkpoint: null, step: null, weights: { layout: 'pytorch' } });
    expect(saved.models[0].model).toBe('model');
    expect(saved.models[0].cleanWrong).toEqual(peer1.cleanWrong);
    expect(saved.models[0].results.map((res: ModelResult['results'][0]) => res.broken)).toEqual(
      peer1.results.map((res) => res.broken),
    );
  });

  it('refuses what it cannot export or evaluate, with a message naming the problem', () => {
    const cases: Array<[string[], RegExp]> = [
      [['export', run, '--step', '5'], /no checkpoint at step 5 \(committed: step 8, 16\)/],
      [['export', run, '--peer', '2'], /no peer 2; the checkpoint has 2 peer\(s\): 0\.\.1/],
      [
        ['export', run, '--out', path.join(run, 'checkpoints', 'x.safetensors')],
        /inside the run's checkpoints/,
      ],
      [
        ['export', run, '--out', path.join(run, 'config.json')],
        /config\.json: exists and is not a MAT model file/,
      ],
      [
        ['eval', run, '--out', path.join(run, 'config.json')],
        /config\.json: exists and is not a mat eval file/,
      ],
      [['export', path.join(dir, 'nope')], /nope: no config\.json/],
      [['eval'], /name a run directory .* or a model file \(--weights file\)/],
      [
        ['eval', '--weights', path.join(run, 'checkpoints', 'step-00000016', 'peer-0.safetensors')],
        /is one peer's file of a MAT checkpoint/,
      ],
      [
        ['eval', '--weights', path.join(run, 'exports', 'peer1-step16.safetensors'), '--arch', 'resnet18'],
        /arch is fmnist-cnn in the file's metadata, --arch says resnet18/,
      ],
      [
        ['eval', run, '--weights', path.join(dir, 'missing.safetensors')],
        /missing\.safetensors: cannot read weight file/,
      ],
    ];
    const config = fs.readFileSync(path.join(run, 'config.json'));
    for (const [args, message] of cases) {
      const r = mat(args, dir);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(message);
    }
    expect(fs.readFileSync(path.join(run, 'config.json')).equals(config)).toBe(true);

    // A checkpoint whose files were written but never committed (no manifest.json).
    const partial = path.join(run, 'checkpoints', 'step-00000024');
    fs.mkdirSync(partial);
    fs.copyFileSync(
      path.join(run, 'checkpoints', 'step-00000016', 'peer-0.safetensors'),
      path.join(partial, 'peer-0.safetensors'),
    );
    let r = mat(['export', run, '--step', '24'], dir);
    expect(r.stderr).toMatch(/the checkpoint at step 24 was never committed \(no manifest\.json/);
    r = mat(['export', run, '--log-format', 'json'], dir); // the newest committed one is still 16
    expect(jsonLines(r.stdout)[0]).toMatchObject({ step: 16 });
    fs.rmSync(partial, { recursive: true });

    // A checkpoint with a NaN weight (a diverged run): neither exported nor evaluated.
    const ckptFile = path.join(run, 'checkpoints', 'step-00000008', 'peer-0.safetensors');
    const original = fs.readFileSync(ckptFile);
    const decoded = decodeTensorFile(original, ckptFile);
    (decoded.tensors.get('param/conv2.kernel')?.data as Float32Array)[3] = NaN;
    writeFileAtomic(ckptFile, encodeTensorFile(decoded.entries, decoded.metadata));
    r = mat(['export', run, '--step', '8'], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /peer-0\.safetensors: weights are not finite \(NaN or ±Infinity\): param\/conv2\.kernel \(1\)/,
    );
    expect(fs.existsSync(path.join(run, 'exports', 'peer0-step8.safetensors'))).toBe(false);
    fs.writeFileSync(ckptFile, original);

    const nanModel = path.join(dir, 'nan.safetensors');
    const exported = decodeTensorFile(
      fs.readFileSync(path.join(run, 'exports', 'peer1-step16.safetensors')),
      'x',
    );
    (exported.tensors.get('fc2.bias')?.data as Float32Array)[0] = Infinity;
    writeFileAtomic(nanModel, encodeTensorFile(exported.entries, exported.metadata));
    r = mat(['eval', '--weights', nanModel, ...evalFlags], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /nan\.safetensors: weights are not finite \(NaN or ±Infinity\): fc2\.bias \(1\)/,
    );
  });
});
