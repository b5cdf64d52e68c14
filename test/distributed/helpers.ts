import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import {
  createPeers,
  findLatestCheckpoint,
  loadCheckpoint,
  parseRunConfig,
  type RunConfig,
  type RunConfigInput,
} from '@mat/core';

/**
 * Distributed tests run the real processes: the built CLI (`npx tsc -b` first), one process per peer, and
 * compare the weights they leave in their checkpoints with those of the in-process reference trainer.
 */
export const CLI = path.resolve(__dirname, '../../packages/cli/dist/bin.js');

export function assertBuilt(): void {
  for (const file of [CLI, path.resolve(__dirname, '../../packages/worker/dist/embedded/child-main.js')]) {
    if (!fs.existsSync(file))
      throw new Error(`${file} is missing: build with \`npx tsc -b\` before these tests`);
  }
}

/** A tiny real run: fmnist-cnn on 160 Fashion-MNIST images, batch 8, PGD-1, 20 steps, wasm. */
export function tinyConfig(
  outDir: string,
  name: string,
  peers: number,
  extra: RunConfigInput = {},
): RunConfig {
  return parseRunConfig({
    name,
    outDir,
    seed: 7,
    peers,
    backend: 'wasm',
    data: { dataset: 'fashion-mnist', trainSubset: 160, testSubset: 16 },
    method: { distillWarmupSteps: 5 },
    attack: { eps: 0.1, stepSize: 0.05, steps: 1 },
    optim: { lr: 0.05, schedule: { type: 'cosine' } },
    train: { epochs: 1, batchSize: 8, maxSteps: 20, checkpointEvery: 4 },
    eval: { everyEpoch: false, batchSize: 16, attack: { eps: 0.1, stepSize: 0.05, steps: 1 } },
    ...extra,
  });
}

/**
 * `mat train` of `config` with one process per peer, a JSON progress line for every step (tests wait for
 * steps in the output) and `extra` flags.
 */
export function trainProcessesArgs(config: RunConfig, ...extra: string[]): string[] {
  return [
    'train',
    '--config',
    writeConfig(config),
    '--runtime',
    'processes',
    '--log-format',
    'json',
    '--progress-every',
    '0',
    ...extra,
  ];
}

export function writeConfig(config: RunConfig): string {
  fs.mkdirSync(config.outDir, { recursive: true });
  const file = path.join(config.outDir, `${config.name}.json`);
  fs.writeFileSync(file, JSON.stringify(config));
  return file;
}

export interface MatProcess {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

export function spawnMat(args: string[], env: Record<string, string> = {}): MatProcess {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout!.on('data', (d) => (text += d));
  child.stderr!.on('data', (d) => (text += d));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, output: () => text, exited };
}

export async function runMat(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; output: string }> {
  const p = spawnMat(args, env);
  const code = await p.exited;
  return { code, output: p.output() };
}

/** Every peer's weights, batch-norm buffers and momentum buffers at the newest committed checkpoint. */
export function checkpointState(config: RunConfig, runDir = path.join(config.outDir, config.name)) {
  const latest = findLatestCheckpoint(runDir);
  if (!latest) throw new Error(`no committed checkpoint in ${runDir}`);
  const peers = createPeers(config, { numClasses: 10, shape: [28, 28, 1] });
  try {
    loadCheckpoint(latest.dir, peers);
    const values = peers.map((p) =>
      [...p.model.params, ...p.model.buffers, ...p.optimizer.state()].map(
        (v) => v.variable.dataSync().slice() as Float32Array,
      ),
    );
    return { step: latest.step, values };
  } finally {
    for (const p of peers) {
      p.model.dispose();
      p.optimizer.dispose();
    }
  }
}

export function maxAbsDiff(a: Float32Array[][], b: Float32Array[][]): number {
  if (a.length !== b.length) throw new Error(`${a.length} peers vs ${b.length}`);
  let max = 0;
  a.forEach((peer, i) =>
    peer.forEach((t, k) => {
      const u = b[i][k];
      if (t.length !== u.length)
        throw new Error(`tensor ${k} of peer ${i}: ${t.length} vs ${u.length} values`);
      for (let j = 0; j < t.length; j++) max = Math.max(max, Math.abs(t[j] - u[j]));
    }),
  );
  return max;
}

/** The in-process reference run (`mat train`, runtime in-process) of `config`; returns its final state. */
export async function referenceState(config: RunConfig) {
  const ref = { ...config, name: `${config.name}-reference` };
  const { code, output } = await runMat(['train', '--config', writeConfig(ref), '--runtime', 'in-process']);
  if (code !== 0) throw new Error(`reference run failed:\n${output}`);
  return checkpointState(ref);
}

export { waitFor } from '../helpers/wait-for';

export { tf };

/** One `step` line of a run's metrics.jsonl. */
export interface StepLine {
  step: number;
  peers: { peer: number; staleness?: number }[];
}

/** The `step` lines of the metrics.jsonl in runDir, in file order. */
export function stepLines(runDir: string): StepLine[] {
  return fs
    .readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as StepLine & { type: string })
    .filter((l) => l.type === 'step');
}
