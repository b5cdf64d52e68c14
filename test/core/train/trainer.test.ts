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
import { registerNativeBackend } from '@mat/native';
import { snapshotParams } from '../helpers/tiny-models';

// Every test trains several times, on wasm too: minutes when both cores are busy with other work.
jest.setTimeout(600000);

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

describe('InProcessTrainer: one seed, every CPU backend', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mat-trainer-backends-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** ‖a − b‖₂ / ‖b‖₂ over every parameter of every peer. */
  function relativeDistance(a: Float32Array[][], b: Float32Array[][]): number {
    let diff = 0;
    let norm = 0;
    b.flat().forEach((values, t) => {
      const other = a.flat()[t];
      for (let k = 0; k < values.length; k++) {
        diff += (other[k] - values[k]) ** 2;
        norm += values[k] ** 2;
      }
    });
    return Math.sqrt(diff / norm);
  }

  // Backends sum in different orders, so the weights agree to float32 rounding, amplified a little where PGD
  // takes the sign of a gradient component within rounding of 0 (a pixel then steps the other way): after 3
  // steps ~5e-4 relative here, against ~1 for another seed.
  it('gives the same weights on cpu, wasm and native up to rounding, and another seed does not', async () => {
    const backends = ['cpu', 'wasm', ...(registerNativeBackend() ? ['native' as const] : [])] as const;
    const weights: Record<string, Float32Array[][]> = {};
    for (const backend of backends) {
      await selectBackend(backend);
      weights[backend] = await train({ ...tinyConfig(dir, `on-${backend}`, { maxSteps: 3 }), backend });
    }
    const otherSeed = await train({ ...tinyConfig(dir, 'other-seed', { maxSteps: 3 }), seed: 4 });
    const separation = relativeDistance(otherSeed, weights.cpu);
    const distances = Object.fromEntries(
      backends.slice(1).map((backend) => [backend, relativeDistance(weights[backend], weights.cpu)]),
    );
    for (const backend of backends.slice(1)) expect(distances[backend]).toBeLessThan(2e-3);
    expect(separation).toBeGreaterThan(0.1);
    expect(Math.max(...Object.values(distances)) * 100).toBeLessThan(separation);
  });
});
