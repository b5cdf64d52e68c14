import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import {
  assertFinitePeer,
  createPeer,
  decideOnDivergence,
  DivergenceError,
  InProcessTrainer,
  parseRunConfig,
  RunFailedError,
  selectBackend,
  type RunConfig,
} from '@mat/core';

/** fmnist-cnn on 64 Fashion-MNIST images, 2 peers; with lr 1e6 the first update blows the weights up. */
function divergingConfig(outDir: string, name: string, train: Partial<RunConfig['train']> = {}): RunConfig {
  return parseRunConfig({
    name,
    outDir,
    seed: 3,
    peers: 2,
    data: { dataset: 'fashion-mnist', dataDir: path.join(outDir, 'data'), trainSubset: 64, testSubset: 16 },
    attack: { eps: 0.1, stepSize: 0.05, steps: 1 },
    optim: { lr: 1e6, schedule: { type: 'constant' } },
    train: { epochs: 1, batchSize: 8, maxSteps: 6, ...train },
    eval: { everyEpoch: false, batchSize: 16, attack: { eps: 0.1, stepSize: 0.05, steps: 1 } },
  });
}

describe('decideOnDivergence', () => {
  const divergence = { peer: 1, step: 5, reason: 'peer 1 diverged at step 5: …' };
  it.each([
    ['fail', undefined, 4, 'fail'],
    ['rollback', undefined, 4, 'rollback'],
    // A second divergence at the same step (or before it) after a rollback fails: no endless loop.
    ['rollback', 5, 4, 'fail'],
    ['rollback', 6, 4, 'fail'],
    // Past the step of the last rollback: a new divergence, rolled back once more.
    ['rollback', 3, 4, 'rollback'],
  ] as const)(
    'policy %s, last rollback from step %s, checkpoint %s: %s',
    (policy, previous, checkpointStep, action) => {
      const decision = decideOnDivergence({ policy, divergence, previous, checkpointStep });
      expect(decision.action).toBe(action);
      expect(decision.reason).toContain(divergence.reason);
      if (decision.action === 'rollback') expect(decision.toStep).toBe(checkpointStep);
      if (previous !== undefined && action === 'fail') expect(decision.reason).toMatch(/diverged again/);
    },
  );
});

describe('divergence at its source', () => {
  let dir: string;
  beforeAll(async () => {
    await selectBackend('wasm');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mat-divergence-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('assertFinitePeer names the peer and the step of one NaN weight, and passes finite ones', () => {
    const config = divergingConfig(dir, 'assert');
    const peer = createPeer(config, 1, { numClasses: 10, shape: [28, 28, 1] });
    try {
      expect(() => assertFinitePeer(peer, 3)).not.toThrow();
      const v = peer.model.params[2].variable;
      const values = v.dataSync().slice();
      values[values.length - 1] = NaN;
      v.assign(tf.tensor(values, v.shape));
      expect(() => assertFinitePeer(peer, 3)).toThrow(DivergenceError);
      expect(() => assertFinitePeer(peer, 3)).toThrow(/^peer 1 diverged at step 3: its weights/);
    } finally {
      peer.model.dispose();
      peer.optimizer.dispose();
    }
  });

  it('in-process, onDivergence fail: the run fails naming peer and step; summary.json says why, no accuracy', async () => {
    const trainer = await InProcessTrainer.open(divergingConfig(dir, 'fail'));
    const steps: number[] = [];
    try {
      const failure = await trainer.run({ onStep: (e) => steps.push(e.step) }).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(failure).toBeInstanceOf(RunFailedError);
      const message = (failure as Error).message;
      const [, peer, step] = /peer (\d) diverged at step (\d+)/.exec(message) ?? [];
      expect(peer).toMatch(/^[01]$/);
      // The step that diverged is the one after the last reported step, and it is not the last one.
      expect(Number(step)).toBe(steps.length + 1);
      expect(Number(step)).toBeLessThan(6);
      const summary = JSON.parse(fs.readFileSync(path.join(trainer.runDir, 'summary.json'), 'utf8'));
      expect(summary.error).toBe((failure as RunFailedError).reason);
      expect(summary.final).toBeUndefined();
      expect(summary.stepsDone).toBe(steps.length);
    } finally {
      trainer.dispose();
    }
  });

  it('in-process, onDivergence rollback: back to the last checkpoint once, then fails when it diverges again at that step', async () => {
    const trainer = await InProcessTrainer.open(
      divergingConfig(dir, 'rollback', { onDivergence: 'rollback', checkpointEvery: 1 }),
    );
    const rollbacks: Array<{ reason: string; toStep: number }> = [];
    const steps: number[] = [];
    try {
      const failure = await trainer
        .run({ onRollback: (e) => rollbacks.push(e), onStep: (e) => steps.push(e.step) })
        .then(
          () => undefined,
          (err: unknown) => err,
        );
      expect(failure).toBeInstanceOf(RunFailedError);
      expect(rollbacks).toHaveLength(1);
      const diverged = Number(/diverged at step (\d+)/.exec(rollbacks[0].reason)?.[1]);
      // Checkpoints at every step: the rollback goes to the step before the one that diverged.
      expect(rollbacks[0].toStep).toBe(diverged - 1);
      expect((failure as Error).message).toContain(`diverged at step ${diverged}`);
      expect((failure as Error).message).toMatch(/diverged again after a rollback/);
      // metrics.jsonl: one line per step taken, the re-taken one once.
      const lines = fs
        .readFileSync(path.join(trainer.runDir, 'metrics.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { step: number });
      expect(lines.map((l) => l.step)).toEqual(Array.from({ length: diverged - 1 }, (_, i) => i + 1));
      // summary.json: one rollback, so two generations; the checkpoint was the last completed step, so
      // no step was taken twice; the time of the reload is recovery.
      const summary = JSON.parse(fs.readFileSync(path.join(trainer.runDir, 'summary.json'), 'utf8'));
      expect(summary.history).toEqual({ generations: 2, rollbacks: 1, lostWorkers: 0, stepsRedone: 0 });
      expect(Object.keys(summary.timing).sort()).toEqual([
        'evaluationSeconds',
        'recoverySeconds',
        'trainingSeconds',
        'waitingSeconds',
      ]);
      expect(summary.timing.trainingSeconds).toBeGreaterThan(0);
    } finally {
      trainer.dispose();
    }
  });
});
