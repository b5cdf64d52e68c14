import * as fs from 'fs';
import * as path from 'path';
import type { Argv } from 'yargs';
import {
  assertFiniteOutputs,
  createPeers,
  defaultEvalEps,
  EnsembleModel,
  loadCheckpoint,
  loadDataset,
  newestCheckpoint,
  parseRunConfig,
  runEvalSuite,
  selectBackend,
  subset,
  type AttackName,
  type EvalProgress,
  type EvalSuiteSpec,
  type EvalTarget,
  type Norm,
  type RunConfig,
  type SuiteAttack,
} from '@mat/core';
import { readConfigFile } from '../config-file';
import { evalFileName, writeEvalFile, type EvalFile } from '../eval/eval-file';
import { parseAttackNames, parseEps, parseNorms, parseScales } from '../eval/parse-args';
import { formatEvalTable } from '../eval/table';
import type { LogFormat } from '../reporter';

interface EvalArgs {
  run: string;
  checkpoint?: string;
  attacks?: string;
  norms?: string;
  norm?: Norm;
  eps?: string;
  'eps-scales'?: string;
  steps?: number;
  'attack-steps'?: number;
  'apgd-steps'?: number;
  queries?: number;
  restarts?: number;
  targets?: number;
  ensemble: boolean;
  'test-subset'?: number;
  'batch-size'?: number;
  backend?: string;
  out?: string;
  'log-format': LogFormat;
}

const USAGE = `$0 eval <run> [options]

Robust accuracy of every peer of a run's checkpoint and of the peers' ensemble (averaged logits) under
attacks × norms × radii, with the per-sample worst case ("union") over the attacks of each norm and over
all norms. Prints a table and writes runs/<name>/eval-step<S>-<attacks>-<norms>.json (see --out).

Without --attacks/--norms/--eps it runs the run's own evaluation attack (PGD, config eval.attack).
Default radii per dataset (--norms without --eps): fashion-mnist linf 0.1, l2 1.5, l1 10;
mnist linf 0.3, l2 2, l1 10; cifar10/cifar100 linf 8/255, l2 0.5, l1 12.

Attacks: pgd, cw (PGD on the CW margin), apgd-ce, apgd-dlr, apgd-t (targeted DLR), square (linf, l2;
no gradients), fgsm.

Examples:
  mat eval runs/quick
  mat eval runs/quick --attacks pgd,apgd-ce,apgd-t,square --norms linf,l2,l1 --eps linf=0.1,l2=1.5,l1=10
  mat eval runs/quick --attacks pgd,apgd-ce --norms linf --eps-scales 0.25,0.5,1,1.5,2 --test-subset 500`;

export function evalCommand(yargs: Argv): Argv {
  return yargs.command<EvalArgs>(
    'eval <run>',
    'Robust accuracy of each peer and the ensemble: attacks × norms × eps, with union accuracy',
    (y) =>
      y
        .usage(USAGE)
        .positional('run', {
          type: 'string',
          demandOption: true,
          describe: 'Run directory (holds config.json)',
        })
        .option('checkpoint', {
          type: 'string',
          describe: 'Checkpoint directory (default: the newest of the run)',
        })
        .option('attacks', { type: 'string', describe: 'Comma-separated attacks (default: pgd)' })
        .option('norms', { type: 'string', describe: 'Comma-separated norms: linf,l2,l1' })
        .option('norm', { choices: ['linf', 'l2', 'l1'] as const, describe: 'One norm (same as --norms N)' })
        .option('eps', {
          type: 'string',
          describe: 'Radii: linf=0.1,l2=1.5,l1=10 (or one number for every norm; 8/255 works)',
        })
        .option('eps-scales', {
          type: 'string',
          describe: 'Also evaluate at these multiples of every radius (accuracy vs eps), e.g. 0.5,1,2',
        })
        .option('steps', {
          type: 'number',
          describe: 'PGD / CW iterations (default: the run eval config, 20)',
        })
        .option('attack-steps', { type: 'number', describe: 'Same as --steps' })
        .option('apgd-steps', { type: 'number', describe: 'APGD iterations (default 100)' })
        .option('queries', { type: 'number', describe: 'Square attack queries (default 1000)' })
        .option('restarts', { type: 'number', describe: 'Restarts of every attack (default 1)' })
        .option('targets', { type: 'number', describe: 'APGD-T target classes (default 9)' })
        .option('ensemble', {
          type: 'boolean',
          default: true,
          describe: "Also attack the peers' ensemble (--no-ensemble to skip)",
        })
        .option('test-subset', { type: 'number', describe: 'Evaluate on the first N test images' })
        .option('batch-size', { type: 'number' })
        .option('backend', { type: 'string', choices: ['auto', 'tensorflow', 'native', 'wasm', 'cpu'] })
        .option('out', {
          type: 'string',
          describe: 'Where to write the JSON results (default: in the run directory)',
        })
        .option('log-format', { choices: ['text', 'json'] as const, default: 'text' as LogFormat }),
    async (args) => {
      await runEval(args);
    },
  );
}

/** The suite the flags ask for, with the run's config and dataset filling the gaps. */
export function suiteFromArgs(a: EvalArgs, config: RunConfig): Omit<EvalSuiteSpec, 'batchSize' | 'seed'> {
  const names: AttackName[] = a.attacks ? parseAttackNames(a.attacks) : [config.eval.attack.name];
  const explicitNorms = a.norms ? parseNorms(a.norms) : a.norm ? [a.norm] : undefined;
  const givenEps =
    a.eps !== undefined ? parseEps(a.eps, explicitNorms ?? [config.eval.attack.norm]) : undefined;
  const norms = explicitNorms ?? (givenEps ? (Object.keys(givenEps) as Norm[]) : [config.eval.attack.norm]);
  const eps: Partial<Record<Norm, number>> = {};
  for (const norm of norms) {
    const fallback =
      !explicitNorms && norm === config.eval.attack.norm
        ? config.eval.attack.eps
        : defaultEvalEps(config.data.dataset)[norm];
    eps[norm] = givenEps?.[norm] ?? fallback;
  }
  const pgdSteps = a.steps ?? a['attack-steps'] ?? config.eval.attack.steps ?? 20;
  const restarts = a.restarts ?? config.eval.attack.restarts;
  const attacks = names.map((name): SuiteAttack => {
    const common = { name, restarts: name === 'fgsm' ? undefined : restarts };
    if (name === 'pgd' || name === 'cw') return { ...common, steps: pgdSteps };
    if (name.startsWith('apgd')) {
      return {
        ...common,
        steps: a['apgd-steps'],
        ...(name === 'apgd-t' ? { targetClasses: a.targets } : {}),
      };
    }
    if (name === 'square') return { ...common, steps: a.queries };
    return common;
  });
  return { attacks, eps, scales: a['eps-scales'] ? parseScales(a['eps-scales']) : [1] };
}

export async function runEval(a: EvalArgs): Promise<void> {
  const configFile = path.join(a.run, 'config.json');
  if (!fs.existsSync(configFile)) throw new Error(`${a.run}: no config.json; is it a run directory?`);
  const config = parseRunConfig(readConfigFile(configFile), configFile);
  const suite = suiteFromArgs(a, config);
  const json = a['log-format'] === 'json';
  const say = (message: string, fields: object = {}) =>
    process.stdout.write(
      json
        ? JSON.stringify({ time: new Date().toISOString(), type: 'info', message, ...fields }) + '\n'
        : message + '\n',
    );
  const backend = await selectBackend((a.backend ?? config.backend) as RunConfig['backend']);
  say(`backend: ${backend.name}`, { backend });

  // The newest complete checkpoint; one whose writing was cut short is skipped with a warning.
  const ckptDir = a.checkpoint ?? newestCheckpoint(a.run, (m) => say(`warning: ${m}`))?.dir;
  if (!ckptDir)
    throw new Error(`${a.run}: no complete checkpoint found under ${path.join(a.run, 'checkpoints')}`);
  let test = await loadDataset(config.data.dataset, 'test', { dataDir: config.data.dataDir });
  const count = a['test-subset'] ?? config.data.testSubset;
  if (count) test = subset(test, Math.min(count, test.count));

  const peers = createPeers(config, test);
  try {
    // A checkpoint holding NaN or ±Infinity is refused by loadCheckpoint; a model whose outputs are not
    // finite all the same has no accuracy either.
    const manifest = loadCheckpoint(ckptDir, peers);
    for (const p of peers)
      assertFiniteOutputs(p.model, test, config.eval.batchSize, `peer ${p.index} of ${ckptDir}`);
    const targets: EvalTarget[] = peers.map((p) => ({
      name: `peer ${p.index}`,
      peer: p.index,
      model: p.model,
    }));
    if (a.ensemble && peers.length > 1) {
      targets.push({ name: 'ensemble', model: new EnsembleModel(peers.map((p) => p.model)) });
    }
    const epsText = Object.entries(suite.eps)
      .map(([n, e]) => `${n} ${+(e as number).toPrecision(4)}`)
      .join(', ');
    say(
      `checkpoint ${ckptDir} (step ${manifest.step}); ${suite.attacks.map((s) => s.name).join(', ')} at ${epsText}` +
        `${suite.scales && suite.scales.length > 1 ? ` × [${suite.scales}]` : ''}; ${test.count} test images`,
      { checkpoint: ckptDir, step: manifest.step, suite },
    );
    const progress = progressLine(json);
    const result = runEvalSuite(
      targets,
      test,
      { ...suite, batchSize: a['batch-size'] ?? config.eval.batchSize, seed: config.seed },
      { onProgress: progress.update },
    );
    progress.clear();
    const file: EvalFile = {
      kind: 'mat-eval',
      version: 1,
      run: config.name,
      checkpoint: ckptDir,
      step: manifest.step,
      dataset: config.data.dataset,
      backend: backend.name,
      createdAt: new Date().toISOString(),
      ...result,
    };
    const out = a.out ?? path.join(a.run, evalFileName(manifest.step, result));
    writeEvalFile(out, file);
    if (json) {
      process.stdout.write(
        JSON.stringify({ time: new Date().toISOString(), type: 'eval-suite', file: out, ...result }) + '\n',
      );
    } else {
      process.stdout.write(
        `\nrobust accuracy at step ${manifest.step} (${result.count} test images, ${result.seconds.toFixed(0)} s):\n` +
          formatEvalTable(result) +
          (result.skipped.length
            ? `\nskipped: ${result.skipped.map((s) => `${s.attack} ${s.norm}`).join(', ')}`
            : '') +
          `\nresults: ${out}\n`,
      );
    }
  } finally {
    peers.forEach((p) => {
      p.model.dispose();
      p.optimizer.dispose();
    });
  }
}

/** A live progress line on a terminal; nothing otherwise (and never in JSON mode). */
function progressLine(json: boolean): { update: (p: EvalProgress) => void; clear: () => void } {
  const out = process.stdout;
  if (json || !out.isTTY) return { update: () => {}, clear: () => {} };
  let last = 0;
  return {
    update: (p) => {
      const now = Date.now();
      if (now - last < 200 && p.step !== undefined) return;
      last = now;
      const iter = p.step !== undefined ? ` iter ${p.step}/${p.steps}` : '';
      const text = `[${p.done}/${p.total}] ${p.model}: ${p.task}, batch ${p.batch}/${p.batches}${iter}`;
      out.write('\r\x1b[2K' + text.slice(0, (out.columns ?? 120) - 1));
    },
    clear: () => out.write('\r\x1b[2K'),
  };
}
