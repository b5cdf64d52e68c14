import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import {
  findLatestCheckpoint,
  InProcessTrainer,
  loadCheckpoint,
  parseRunConfig,
  selectBackend,
  type RunConfig,
} from '@mat/core';
import { snapshotParams } from '../helpers/tiny-models';

/** A tiny real run: fmnist-cnn on 64 Fashion-MNIST images, batch 8, PGD-2, 2 peers. */
function tinyConfig(outDir: string, name: string, extra: Partial<RunConfig['train']> = {}): RunConfig {
  return parseRunConfig({
    name,
    outDir,
    seed: 3,
    peers: 2,
    data: { dataset: 'fashion-mnist', dataDir: path.join(outDir, 'data'), trainSubset: 64, testSubset: 16 },
    attack: { eps: 0.1, stepSize: 0.05, steps: 2 },
    optim: { lr: 0.05, schedule: { type: 'cosine' } },
    train: { epochs: 1, batchSize: 8, ...extra },
    eval: { everyEpoch: false, batchSize: 16, attack: { eps: 0.1, stepSize: 0.05, steps: 1 } },
  });
}

async function train(config: RunConfig, resume = false): Promise<Float32Array[][]> {
  const trainer = await InProcessTrainer.open(config, { resume });
  try {
    await trainer.run();
    return trainer.peers.map((p) => [...snapshotParams(p.model)]);
  } finally {
    trainer.dispose();
  }
}

// Needs the Fashion-MNIST files (Debian package dataset-fashion-mnist, installed by .ci/run).
describe('InProcessTrainer on Fashion-MNIST (wasm)', () => {
  let dir: string;
  beforeAll(async () => {
    await selectBackend('wasm');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mat-trainer-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('resuming from a checkpoint gives the same weights as an uninterrupted run, and runs are deterministic', async () => {
    const straight = await train(tinyConfig(dir, 'straight', { maxSteps: 4 }));
    const again = await train(tinyConfig(dir, 'again', { maxSteps: 4 }));
    expect(again).toEqual(straight);

    await train(tinyConfig(dir, 'resumed', { maxSteps: 2 }));
    expect(findLatestCheckpoint(path.join(dir, 'resumed'))?.step).toBe(2);
    const resumed = await train(tinyConfig(dir, 'resumed', { maxSteps: 4 }), true);
    expect(resumed).toEqual(straight);

    const different = await train({ ...tinyConfig(dir, 'other-seed', { maxSteps: 1 }), seed: 4 });
    expect(different).not.toEqual(straight);

    const summary = JSON.parse(fs.readFileSync(path.join(dir, 'resumed', 'summary.json'), 'utf8'));
    expect(summary.stepsDone).toBe(4);
    expect(summary.final.peers).toHaveLength(2);
    const lines = fs
      .readFileSync(path.join(dir, 'resumed', 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n');
    expect(lines.map((l) => JSON.parse(l).type).filter((t) => t === 'step')).toHaveLength(4);
  });

  it('a corrupt checkpoint file is a clear error and leaves every peer unchanged', async () => {
    const config = tinyConfig(dir, 'corrupt', { maxSteps: 1 });
    await train(config);
    const ckpt = findLatestCheckpoint(path.join(dir, 'corrupt'))!;
    const file = path.join(ckpt.dir, 'peer-1.safetensors');
    const bytes = fs.readFileSync(file);
    fs.writeFileSync(file, bytes.subarray(0, bytes.length - 100));

    const trainer = await InProcessTrainer.open({ ...config, name: 'corrupt-fresh' });
    const before = trainer.peers.map((p) => snapshotParams(p.model));
    expect(() => loadCheckpoint(ckpt.dir, trainer.peers)).toThrow(/peer-1\.safetensors/);
    expect(trainer.peers.map((p) => snapshotParams(p.model))).toEqual(before);
    trainer.dispose();
    expect(() => loadCheckpoint(path.join(dir, 'nowhere'), [])).toThrow(/manifest/);
  });

  it('keeps tf.memory().numTensors flat across training steps', async () => {
    const trainer = await InProcessTrainer.open(tinyConfig(dir, 'leak', { maxSteps: 6 }));
    const counts: number[] = [];
    await trainer.run({ onStep: () => counts.push(tf.memory().numTensors) });
    trainer.dispose();
    expect(counts).toHaveLength(6);
    expect(new Set(counts.slice(1)).size).toBe(1);
  });
});
