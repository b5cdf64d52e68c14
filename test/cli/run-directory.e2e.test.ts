import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import {
  createPeers,
  findLatestCheckpoint,
  loadCheckpoint,
  parseRunConfig,
  saveCheckpoint,
  selectBackend,
  stepDirName,
} from '@mat/core';
import { RunStore } from '@mat/exchange';
import { assertBuilt, runMat } from '../distributed/helpers';
import { deleteRun, newRedis, REDIS_URL, uniqueRunId } from '../exchange/redis-helpers';

// Several CLI processes per test: generous under a loaded CI machine (times are never asserted).
jest.setTimeout(600000);

/** A one-step run of 2 peers on 32 Fashion-MNIST images (wasm, in-process). */
const TINY = [
  '--preset',
  'quick',
  '--train-subset',
  '32',
  '--test-subset',
  '8',
  '--batch-size',
  '8',
  '--attack-steps',
  '1',
  '--set',
  'eval.attack.steps=1',
  '--backend',
  'wasm',
  '--runtime',
  'in-process',
];

/** `mat eval` of a run, as quickly as it goes. */
const EVAL = ['--attack-steps', '1', '--test-subset', '8', '--backend', 'wasm'];

// Needs the Fashion-MNIST files and Redis on 127.0.0.1:6379 (the coordinator and status cases).
describe('the run directory: an existing run, a NaN checkpoint, a checkpoint cut short', () => {
  let dir: string;
  beforeAll(() => {
    assertBuilt();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mat-run-dir-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const read = (runDir: string, file: string) => fs.readFileSync(path.join(runDir, file), 'utf8');
  const stepCount = (runDir: string) =>
    read(runDir, 'metrics.jsonl')
      .split('\n')
      .filter((l) => l.includes('"type":"step"')).length;

  it('mat train --name X over a run X is an error naming the directory and the ways out; --overwrite starts anew', async () => {
    const out = ['--out-dir', dir, '--name', 'taken'];
    const runDir = path.join(dir, 'taken');
    let r = await runMat(['train', ...TINY, ...out, '--max-steps', '2']);
    expect({ code: r.code, output: r.code === 0 ? '' : r.output }).toEqual({ code: 0, output: '' });
    const before = { config: read(runDir, 'config.json'), metrics: read(runDir, 'metrics.jsonl') };

    r = await runMat(['train', ...TINY, ...out, '--max-steps', '1', '--seed', '5']);
    expect(r.code).toBe(1);
    expect(r.output).toContain(
      `error: ${runDir} already holds a run (checkpoints, config.json, metrics.jsonl, summary.json): ` +
        `continue it with --resume ${runDir}, choose another --name, or pass --overwrite to delete its files and start anew`,
    );
    // Nothing of the first run was touched.
    expect({ config: read(runDir, 'config.json'), metrics: read(runDir, 'metrics.jsonl') }).toEqual(before);

    // mat coordinator over the directory of a mat train run: the same error, with the coordinator's ways out.
    const runId = uniqueRunId('taken');
    r = await runMat([
      'coordinator',
      ...TINY.slice(0, -2),
      ...out,
      '--run-id',
      runId,
      '--redis-url',
      REDIS_URL,
    ]);
    expect(r.code).toBe(1);
    expect(r.output).toContain(
      `${runDir} already holds a run (checkpoints, config.json, metrics.jsonl, summary.json): ` +
        `continue it with mat coordinator --resume ${runDir}, choose another --name`,
    );
    expect(read(runDir, 'config.json')).toBe(before.config);

    r = await runMat(['train', ...TINY, ...out, '--max-steps', '1', '--seed', '5', '--overwrite']);
    expect({ code: r.code, output: r.code === 0 ? '' : r.output }).toEqual({ code: 0, output: '' });
    expect(JSON.parse(read(runDir, 'config.json')).seed).toBe(5);
    expect(stepCount(runDir)).toBe(1);
    expect(findLatestCheckpoint(runDir)?.step).toBe(1);
  });

  it('a checkpoint cut short (no manifest.json) is skipped with a warning by mat eval and --resume', async () => {
    const runDir = path.join(dir, 'cut');
    let r = await runMat(['train', ...TINY, '--out-dir', dir, '--name', 'cut', '--max-steps', '1']);
    expect(r.code).toBe(0);
    const cut = path.join(runDir, 'checkpoints', stepDirName(9));
    fs.mkdirSync(cut);
    fs.copyFileSync(
      path.join(runDir, 'checkpoints', stepDirName(1), 'peer-0.safetensors'),
      path.join(cut, 'peer-0.safetensors'),
    );
    const warning = `warning: skipping ${cut}: no manifest.json (a checkpoint whose writing was cut short); the newest complete checkpoint is at step 1`;
    r = await runMat(['eval', runDir, ...EVAL]);
    expect({ code: r.code, output: r.code === 0 ? '' : r.output }).toEqual({ code: 0, output: '' });
    expect(r.output).toContain(warning);
    expect(r.output).toMatch(/robust accuracy at step 1 /);
    r = await runMat(['train', '--resume', runDir, '--max-steps', '2', '--runtime', 'in-process']);
    expect(r.code).toBe(0);
    expect(r.output).toContain(warning);
    expect(r.output).toContain('resumed at step 1');
  });

  it('a checkpoint holding NaN: --resume and mat eval refuse it, naming the file and the tensor, and print no accuracy', async () => {
    const runDir = path.join(dir, 'nan');
    let r = await runMat(['train', ...TINY, '--out-dir', dir, '--name', 'nan', '--max-steps', '1']);
    expect(r.code).toBe(0);
    // The newest checkpoint (step 2) is the first one with one weight of peer 1 set to NaN.
    await selectBackend('cpu');
    const config = parseRunConfig(JSON.parse(read(runDir, 'config.json')));
    const peers = createPeers(config, { numClasses: 10, shape: [28, 28, 1] });
    loadCheckpoint(findLatestCheckpoint(runDir)!.dir, peers);
    const { name, variable } = peers[1].model.params[0];
    const values = variable.dataSync().slice();
    values[3] = NaN;
    variable.assign(tf.tensor(values, variable.shape));
    saveCheckpoint(runDir, peers, { step: 2, seed: config.seed });
    for (const p of peers) {
      p.model.dispose();
      p.optimizer.dispose();
    }
    const file = path.join(runDir, 'checkpoints', stepDirName(2), 'peer-1.safetensors');
    const refusal = `${file}: checkpoint holds non-finite values (a diverged model; resume from an earlier checkpoint or start anew): param/${name} holds 1 non-finite value (NaN at index 3)`;

    r = await runMat(['train', '--resume', runDir, '--max-steps', '3', '--runtime', 'in-process']);
    expect(r.code).toBe(1);
    expect(r.output).toContain(`error: ${refusal}`);
    expect(r.output).not.toMatch(/loss NaN|run finished/);

    r = await runMat(['eval', runDir, ...EVAL]);
    expect(r.code).toBe(1);
    expect(r.output).toContain(`error: ${refusal}`);
    expect(r.output).not.toMatch(/%/);
  });

  it('mat status shows a NaN loss as NaN, never 0.000', async () => {
    const redis = newRedis();
    const runId = uniqueRunId('status-nan');
    const store = new RunStore(redis, runId);
    try {
      const now = Date.now();
      await store.create(parseRunConfig({ name: runId, peers: 1 }), {
        status: 'running',
        generation: 1,
        resumeStep: 0,
        lastStep: 10,
        totalSteps: 10,
        step: 3,
        peers: 1,
        checkpointStep: 0,
        runDir: dir,
        createdAt: now,
        updatedAt: now,
      });
      // A worker's step entry with a diverged loss: JSON carries NaN as null.
      await store.addMetric({
        type: 'step',
        peer: 0,
        step: 3,
        generation: 1,
        loss: NaN,
        base: NaN,
        distill: 0,
        advAccuracy: 0.1,
        lr: 0.1,
        stepSeconds: 0.5,
        exchangeSeconds: 0.01,
      });
      const r = await runMat(['status', runId, '--redis-url', REDIS_URL]);
      expect({ code: r.code, output: r.code === 0 ? '' : r.output }).toEqual({ code: 0, output: '' });
      expect(r.output).toMatch(/peer 0: free \| loss NaN adv 10\.0% 0\.50 s\/step \(exchange 0\.010 s\)/);
    } finally {
      await deleteRun(redis, runId);
      redis.disconnect();
    }
  });
});
