import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import {
  createPeers,
  InProcessTrainer,
  loadCheckpoint,
  parseRunConfig,
  saveCheckpoint,
  selectBackend,
  stepDirName,
  type Peer,
  type RunConfig,
} from '@mat/core';

const DATA = { numClasses: 10, shape: [28, 28, 1] as [number, number, number] };

/** A tiny run config (fmnist-cnn, 64 Fashion-MNIST images, batch 8). */
function config(outDir: string, name: string): RunConfig {
  return parseRunConfig({
    name,
    outDir,
    peers: 2,
    data: { dataset: 'fashion-mnist', trainSubset: 64, testSubset: 16 },
    train: { epochs: 1, batchSize: 8, maxSteps: 2 },
    eval: { everyEpoch: false },
  });
}

function dispose(peers: Peer[]): void {
  for (const p of peers) {
    p.model.dispose();
    p.optimizer.dispose();
  }
}

const snapshot = (peers: Peer[]) =>
  peers.map((p) => p.model.params.map((v) => v.variable.dataSync().slice()));

// Needs the Fashion-MNIST files (Debian package dataset-fashion-mnist) for the trainer cases.
describe('loading a checkpoint: never a non-finite model, never a silent restart', () => {
  let dir: string;
  beforeAll(async () => {
    await selectBackend('cpu');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mat-checkpoint-load-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** A run directory (config.json) with a checkpoint after `step` steps; `poison` sets a value of peer 1. */
  function runWithCheckpoint(
    name: string,
    step: number,
    poison?: number,
  ): { cfg: RunConfig; runDir: string } {
    const cfg = config(dir, name);
    const runDir = path.join(dir, name);
    fs.mkdirSync(runDir, { recursive: true });
    fs.writeFileSync(path.join(runDir, 'config.json'), JSON.stringify(cfg));
    const peers = createPeers(cfg, DATA);
    if (poison !== undefined) {
      const { variable } = peers[1].model.params[0];
      const values = variable.dataSync().slice();
      values[5] = poison;
      variable.assign(tf.tensor(values, variable.shape));
    }
    saveCheckpoint(runDir, peers, { step, seed: cfg.seed });
    dispose(peers);
    return { cfg, runDir };
  }

  it.each([NaN, Infinity])(
    'a tensor holding %s is refused, naming the file and the tensor; no peer changes',
    (bad) => {
      const { cfg, runDir } = runWithCheckpoint(`poisoned-${bad}`, 2, bad);
      const peers = createPeers({ ...cfg, seed: 99 }, DATA);
      const before = snapshot(peers);
      const file = path.join(runDir, 'checkpoints', stepDirName(2), 'peer-1.safetensors');
      const name = peers[1].model.params[0].name;
      expect(() => loadCheckpoint(path.join(runDir, 'checkpoints', stepDirName(2)), peers)).toThrow(
        `${file}: checkpoint holds non-finite values (a diverged model; resume from an earlier checkpoint or start anew): param/${name} holds 1 non-finite value (${bad} at index 5)`,
      );
      expect(snapshot(peers)).toEqual(before);
      dispose(peers);
    },
  );

  it('mat train --resume of a run whose newest checkpoint holds NaN is an error, not a NaN run', async () => {
    const { cfg, runDir } = runWithCheckpoint('resume-nan', 2, NaN);
    await expect(InProcessTrainer.open(cfg, { resume: true })).rejects.toThrow(
      new RegExp(`${path.join(runDir, 'checkpoints', stepDirName(2), 'peer-1.safetensors')}: .*non-finite`),
    );
  });

  it('a checkpoint without manifest.json newer than a complete one is skipped with a warning naming it', async () => {
    const { cfg, runDir } = runWithCheckpoint('cut-short', 1);
    const cut = path.join(runDir, 'checkpoints', stepDirName(2));
    fs.mkdirSync(cut);
    fs.copyFileSync(
      path.join(runDir, 'checkpoints', stepDirName(1), 'peer-0.safetensors'),
      path.join(cut, 'peer-0.safetensors'),
    );
    const warnings: string[] = [];
    const trainer = await InProcessTrainer.open(cfg, { resume: true, warn: (m) => warnings.push(m) });
    expect(trainer.stepsDone).toBe(1);
    trainer.dispose();
    expect(warnings).toEqual([
      `skipping ${cut}: no manifest.json (a checkpoint whose writing was cut short); the newest complete checkpoint is at step 1`,
    ]);
  });

  it('a checkpoint without manifest.json and no complete one is an error, never a restart from step 0', async () => {
    const { cfg, runDir } = runWithCheckpoint('only-cut-short', 2);
    const cut = path.join(runDir, 'checkpoints', stepDirName(2));
    fs.rmSync(path.join(cut, 'manifest.json'));
    fs.rmSync(path.join(runDir, 'checkpoints', 'latest.json'));
    await expect(InProcessTrainer.open(cfg, { resume: true })).rejects.toThrow(
      `${cut}: no manifest.json (a checkpoint whose writing was cut short), and the run has no complete checkpoint: resuming would start it again from step 0`,
    );
  });
});
