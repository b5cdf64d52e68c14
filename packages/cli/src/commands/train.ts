import * as fs from 'fs';
import * as path from 'path';
import type { Argv } from 'yargs';
import {
  DEFAULT_PROGRESS_MS,
  describeMethod,
  describePerturbations,
  fetchDataset,
  InProcessTrainer,
  mergeLayers,
  parseRunConfig,
  PRESET_NAMES,
  resolveRunConfig,
  selectBackend,
  type RunConfig,
} from '@mat/core';
import { autoRuntime, ProcessTrainer } from '@mat/coordinator';
import { parseSetOverrides, readConfigFile } from '../config-file';
import { createReporter, type LogFormat, type Reporter } from '../reporter';

export interface TrainArgs {
  config?: string;
  preset?: string;
  resume?: string;
  overwrite?: boolean;
  set?: string[];
  name?: string;
  'out-dir'?: string;
  seed?: number;
  backend?: string;
  dataset?: string;
  'data-dir'?: string;
  'train-subset'?: number;
  'test-subset'?: number;
  arch?: string;
  peers?: number;
  base?: string;
  'lambda-own'?: number;
  'lambda-peer'?: number;
  tau?: number;
  'peer-sample'?: number;
  'max-staleness'?: number;
  'on-divergence'?: string;
  norm?: string;
  eps?: number;
  'step-size'?: number;
  'attack-steps'?: number;
  epochs?: number;
  'batch-size'?: number;
  lr?: number;
  'max-steps'?: number;
  'checkpoint-every'?: number;
  runtime?: 'auto' | 'in-process' | 'processes';
  'stop-grace'?: number;
  'log-format': LogFormat;
  'progress-every'?: number;
}

export function trainCommand(yargs: Argv): Argv {
  return yargs.command<TrainArgs>(
    'train',
    'Train N peers with Mutual Adversarial Training (1 peer = plain adversarial training)',
    (y) =>
      runConfigOptions(
        y.usage(
          '$0 train [options]\n\nExamples:\n  mat train --preset quick\n  mat train --preset quick --peers 1 --name at-baseline\n  mat train --config my-run.json --set optim.lr=0.02\n  mat train --resume runs/quick\n  mat train --preset quick --runtime processes   # one process per peer',
        ),
      )
        .option('runtime', {
          choices: ['auto', 'in-process', 'processes'] as const,
          default: 'auto' as const,
          describe:
            'processes: one child process per peer (same results, faster on several cores); in-process: all peers here; auto: processes for 2+ peers on 2+ cores with a one-core-per-process backend',
        })
        .option('stop-grace', {
          type: 'number',
          default: 30,
          describe:
            'Seconds a stop (SIGINT/SIGTERM) may wait for every peer to reach a common step; then the peer processes are stopped and the run ends at its last checkpoint',
        })
        .option('log-format', { choices: ['text', 'json'] as const, default: 'text' as LogFormat })
        .option('progress-every', {
          type: 'number',
          default: DEFAULT_PROGRESS_MS / 1000,
          describe:
            'Seconds between progress lines in a log or JSON (0: every step); a terminal shows a live line',
        }),
    async (args) => {
      await runTrain(args);
    },
  );
}

/** The run-config flags, shared by `mat train` and `mat coordinator`. */
export function runConfigOptions<T>(y: Argv<T>) {
  return y
    .option('config', { type: 'string', describe: 'JSON run config file (see README: Configuration)' })
    .option('preset', {
      type: 'string',
      describe: `Start from a preset: ${PRESET_NAMES.join(', ')}`,
    })
    .option('resume', {
      type: 'string',
      describe: 'Continue the run in this directory from its newest checkpoint',
    })
    .option('overwrite', {
      type: 'boolean',
      describe:
        'Start anew over a run of the same name: delete its files (config, metrics, checkpoints) first',
    })
    .option('set', {
      type: 'string',
      array: true,
      describe: 'Override any config key: --set method.tau=2',
    })
    .option('name', { type: 'string', describe: 'Run name (directory under --out-dir)' })
    .option('out-dir', { type: 'string', describe: 'Where runs are written (default runs)' })
    .option('seed', { type: 'number', describe: 'Seed for init, data order, augmentation and attacks' })
    .option('backend', { type: 'string', choices: ['auto', 'tensorflow', 'native', 'wasm', 'cpu'] })
    .option('dataset', { type: 'string', choices: ['fashion-mnist', 'mnist', 'cifar10', 'cifar100'] })
    .option('data-dir', { type: 'string', describe: 'Dataset directory (default data)' })
    .option('train-subset', { type: 'number', describe: 'Use the first N training images' })
    .option('test-subset', { type: 'number', describe: 'Evaluate on the first N test images' })
    .option('arch', {
      type: 'string',
      choices: ['fmnist-cnn', 'preact-resnet18', 'resnet18', 'wide-resnet'],
    })
    .option('peers', { type: 'number', describe: 'Number of peers' })
    .option('base', { type: 'string', choices: ['madry', 'trades'], describe: 'Base adversarial loss' })
    .option('lambda-own', { type: 'number', describe: 'Weight of KL on own adversarial examples' })
    .option('lambda-peer', {
      type: 'number',
      describe: "Weight of KL on the peers' adversarial examples",
    })
    .option('tau', { type: 'number', describe: 'Distillation temperature' })
    .option('peer-sample', {
      type: 'number',
      describe: 'Each peer distils from K peers drawn per step (seeded) instead of all others',
    })
    .option('max-staleness', {
      type: 'number',
      describe:
        'Process runtimes: learn from teacher outputs up to S steps old instead of waiting (0: synchronous)',
    })
    .option('on-divergence', {
      type: 'string',
      choices: ['fail', 'rollback'],
      describe:
        'A peer diverged (NaN/Infinity): fail the run (default), or roll back once to the last checkpoint',
    })
    .option('norm', { type: 'string', choices: ['linf', 'l2', 'l1'], describe: 'Training attack norm' })
    .option('eps', { type: 'number', describe: 'Training attack radius' })
    .option('step-size', { type: 'number', describe: 'Training attack step size' })
    .option('attack-steps', { type: 'number', describe: 'Training attack iterations' })
    .option('epochs', { type: 'number' })
    .option('batch-size', { type: 'number' })
    .option('lr', { type: 'number', describe: 'Base learning rate' })
    .option('max-steps', { type: 'number', describe: 'Stop after this many steps (schedule unchanged)' })
    .option('checkpoint-every', {
      type: 'number',
      describe: 'Checkpoint every K steps (0: only at epoch evaluations and the end)',
    })
    .check(flagsGivenOnce);
}

/** Options that may be given several times (each adds a value). */
const REPEATABLE = new Set(['set', '_']);

/** A flag given twice is an error naming it (yargs would pass both values on as an array). */
export function flagsGivenOnce(argv: Record<string, unknown>): true {
  for (const [key, value] of Object.entries(argv)) {
    // yargs adds a camelCase alias of every dashed flag: report the flag as it is written.
    if (!Array.isArray(value) || REPEATABLE.has(key) || /[A-Z]/.test(key)) continue;
    throw new Error(
      `--${key} was given ${value.length} times (${value.map((v) => JSON.stringify(v)).join(', ')}); give it once`,
    );
  }
  return true;
}

function flagOverrides(a: TrainArgs): Record<string, unknown> {
  return {
    name: a.name,
    outDir: a['out-dir'],
    seed: a.seed,
    backend: a.backend,
    peers: a.peers,
    data: {
      dataset: a.dataset,
      dataDir: a['data-dir'],
      trainSubset: a['train-subset'],
      testSubset: a['test-subset'],
    },
    model: { arch: a.arch },
    method: {
      base: a.base,
      lambdaOwn: a['lambda-own'],
      lambdaPeer: a['lambda-peer'],
      tau: a.tau,
      peerSample: a['peer-sample'],
    },
    attack: { norm: a.norm, eps: a.eps, stepSize: a['step-size'], steps: a['attack-steps'] },
    optim: { lr: a.lr },
    train: {
      epochs: a.epochs,
      batchSize: a['batch-size'],
      maxSteps: a['max-steps'],
      checkpointEvery: a['checkpoint-every'],
      maxStaleness: a['max-staleness'],
      onDivergence: a['on-divergence'],
    },
  };
}

export function resolveConfig(a: TrainArgs): { config: RunConfig; resume: boolean } {
  if (a.resume) {
    const file = path.join(a.resume, 'config.json');
    if (!fs.existsSync(file))
      throw new Error(`--resume ${a.resume}: no config.json there; is it a run directory?`);
    const stored = parseRunConfig(readConfigFile(file), file);
    // A resumed run keeps its config; only how far to go may change.
    const config = parseRunConfig({
      ...stored,
      outDir: path.dirname(path.resolve(a.resume)),
      name: path.basename(path.resolve(a.resume)),
      train: {
        ...stored.train,
        maxSteps: a['max-steps'] ?? stored.train.maxSteps,
        epochs: a.epochs ?? stored.train.epochs,
      },
      backend: a.backend ?? stored.backend,
    });
    return { config, resume: true };
  }
  const file = a.config ? readConfigFile(a.config) : undefined;
  const overrides = mergeLayers(flagOverrides(a), parseSetOverrides(a.set ?? []));
  return {
    config: resolveRunConfig({ preset: a.preset, file, fileName: a.config, overrides }),
    resume: false,
  };
}

/** Makes the dataset available before training: verified local or Debian files, else a verified download. */
export async function ensureDataset(config: RunConfig, reporter: Reporter): Promise<void> {
  if (!config.data.verify) {
    reporter.info(
      `data.verify is false: ${config.data.dataset} from ${config.data.dataDir} as it is, not checked against its checksums`,
    );
    return;
  }
  const result = await fetchDataset(config.data.dataset, { dataDir: config.data.dataDir });
  for (const note of result.notes) reporter.info(note);
  const downloaded = result.files.filter((f) => f.source === 'downloaded');
  if (downloaded.length > 0)
    reporter.info(`downloaded ${downloaded.map((f) => f.file).join(', ')} to ${result.dir}`);
}

export async function runTrain(a: TrainArgs): Promise<void> {
  const stopGrace = a['stop-grace'] ?? 30;
  if (!(stopGrace >= 0))
    throw new Error(`--stop-grace must be a number of seconds >= 0, not ${a['stop-grace']}`);
  const { config, resume } = resolveConfig(a);
  const reporter = createReporter(
    a['log-format'],
    process.stdout,
    a['progress-every'] !== undefined ? a['progress-every'] * 1000 : undefined,
  );
  const backend = await selectBackend(config.backend);
  reporter.info(`backend: ${backend.name} (tfjs ${backend.tfjsVersion})`, { backend });
  reporter.info(
    `run ${config.name}: ${config.peers} peer(s) ${config.model.arch} on ${config.data.dataset}, ` +
      `${describeMethod(config)}, ${describePerturbations(config)}`,
    { config },
  );
  await ensureDataset(config, reporter);
  // Bounded staleness exists only between processes: auto then means processes.
  const auto = config.train.maxStaleness > 0 ? 'processes' : autoRuntime(config.peers, backend.name);
  const runtime = a.runtime === 'auto' || !a.runtime ? auto : a.runtime;
  reporter.info(`runtime: ${runtime}${runtime === 'processes' ? ` (one process per peer)` : ''}`, {
    runtime,
  });
  const Trainer = runtime === 'processes' ? ProcessTrainer : InProcessTrainer;
  const trainer = await Trainer.open(config, {
    resume,
    overwrite: a.overwrite,
    warn: (message) => reporter.info(`warning: ${message}`),
    metadata: { backend },
    stopGraceMs: stopGrace * 1000,
  });
  if (resume) reporter.info(`resumed at step ${trainer.stepsDone}`);
  const stop = () => {
    reporter.info('stopping after this step (checkpoint follows); press Ctrl-C again to abort');
    trainer.requestStop();
    process.once('SIGINT', () => process.exit(130));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    const summary = await trainer.run({
      onStep: (e) => reporter.step(e),
      onEval: (e) => reporter.eval(e),
      onEvalProgress: (p, d, t) => reporter.evalProgress(p, d, t),
      onCheckpoint: (e) => reporter.checkpoint(e),
      onRollback: (e) => reporter.info(`warning: ${e.reason}`),
      onWarning: (message) => reporter.info(`warning: ${message}`),
    });
    reporter.summary(summary);
  } finally {
    process.removeListener('SIGINT', stop);
    process.removeListener('SIGTERM', stop);
    trainer.dispose();
  }
}
