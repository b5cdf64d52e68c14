import * as fs from 'fs';
import * as path from 'path';
import type { Argv } from 'yargs';
import {
  createPeers,
  describeAttack,
  evalAttackSpec,
  evaluateModel,
  findLatestCheckpoint,
  loadCheckpoint,
  loadDataset,
  parseRunConfig,
  selectBackend,
  subset,
} from '@mat/core';
import { readConfigFile } from '../config-file';
import { createReporter, type LogFormat } from '../reporter';

interface EvalArgs {
  run: string;
  checkpoint?: string;
  norm?: 'linf' | 'l2' | 'l1';
  eps?: number;
  'step-size'?: number;
  'attack-steps'?: number;
  restarts?: number;
  fgsm?: boolean;
  'test-subset'?: number;
  'batch-size'?: number;
  backend?: string;
  'log-format': LogFormat;
}

export function evalCommand(yargs: Argv): Argv {
  return yargs.command<EvalArgs>(
    'eval <run>',
    "Clean and PGD accuracy of every peer of a run's checkpoint",
    (y) =>
      y
        .usage('$0 eval <run> [options]\n\nExample:\n  mat eval runs/quick --attack-steps 20 --eps 0.1')
        .positional('run', {
          type: 'string',
          demandOption: true,
          describe: 'Run directory (holds config.json)',
        })
        .option('checkpoint', {
          type: 'string',
          describe: 'Checkpoint directory (default: the newest of the run)',
        })
        .option('norm', {
          choices: ['linf', 'l2', 'l1'] as const,
          describe: 'Attack norm (default: the run eval config)',
        })
        .option('eps', { type: 'number' })
        .option('step-size', { type: 'number' })
        .option('attack-steps', { type: 'number' })
        .option('restarts', { type: 'number' })
        .option('fgsm', { type: 'boolean', describe: 'Use one-step FGSM instead of PGD' })
        .option('test-subset', { type: 'number', describe: 'Evaluate on the first N test images' })
        .option('batch-size', { type: 'number' })
        .option('backend', { type: 'string', choices: ['auto', 'tensorflow', 'native', 'wasm', 'cpu'] })
        .option('log-format', { choices: ['text', 'json'] as const, default: 'text' as LogFormat }),
    async (args) => {
      await runEval(args);
    },
  );
}

export async function runEval(a: EvalArgs): Promise<void> {
  const configFile = path.join(a.run, 'config.json');
  if (!fs.existsSync(configFile)) throw new Error(`${a.run}: no config.json; is it a run directory?`);
  const config = parseRunConfig(readConfigFile(configFile), configFile);
  const reporter = createReporter(a['log-format']);
  const backend = await selectBackend((a.backend ?? config.backend) as typeof config.backend);
  reporter.info(`backend: ${backend.name}`, { backend });

  const ckptDir = a.checkpoint ?? findLatestCheckpoint(a.run)?.dir;
  if (!ckptDir)
    throw new Error(`${a.run}: no complete checkpoint found under ${path.join(a.run, 'checkpoints')}`);
  let test = await loadDataset(config.data.dataset, 'test', { dataDir: config.data.dataDir });
  const count = a['test-subset'] ?? config.data.testSubset;
  if (count) test = subset(test, Math.min(count, test.count));

  const peers = createPeers(config, test);
  try {
    const manifest = loadCheckpoint(ckptDir, peers);
    const attack = {
      ...config.eval.attack,
      name: a.fgsm ? ('fgsm' as const) : config.eval.attack.name,
      norm: a.norm ?? config.eval.attack.norm,
      eps: a.eps ?? config.eval.attack.eps,
      stepSize: a['step-size'] ?? config.eval.attack.stepSize,
      steps: a['attack-steps'] ?? config.eval.attack.steps,
      restarts: a.restarts ?? config.eval.attack.restarts,
    };
    reporter.info(
      `checkpoint ${ckptDir} (step ${manifest.step}); attack ${describeAttack(attack)}, ${test.count} test images`,
      { checkpoint: ckptDir, step: manifest.step, attack },
    );
    const results = peers.map((peer) => ({
      peer: peer.index,
      ...evaluateModel(peer.model, test, {
        attack: evalAttackSpec(attack),
        batchSize: a['batch-size'] ?? config.eval.batchSize,
        seed: config.seed,
        onBatch: (done, total) => reporter.evalProgress(peer.index, done, total),
      }),
    }));
    reporter.eval({ step: manifest.step, epoch: 0, final: true, peers: results });
  } finally {
    peers.forEach((p) => {
      p.model.dispose();
      p.optimizer.dispose();
    });
  }
}
