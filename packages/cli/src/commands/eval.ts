import * as fs from 'fs';
import * as path from 'path';
import type { Argv } from 'yargs';
import {
  assertFiniteOutputs,
  checkpointDigest,
  createPeers,
  defaultEvalEps,
  EnsembleModel,
  fileSha256Sync,
  loadCheckpoint,
  loadDataset,
  newestCheckpoint,
  parseRunConfig,
  runEvalSuite,
  selectBackend,
  subset,
  type AttackName,
  type Dataset,
  type EvalSuiteSpec,
  type EvalTarget,
  type Norm,
  type RunConfig,
  type SuiteAttack,
} from '@mat/core';
import { readConfigFile } from '../config-file';
import {
  assertEvalFileWritable,
  evalFileName,
  weightsEvalPath,
  writeEvalFile,
  type EvalFile,
  type SuiteNames,
  type WeightsEvalFile,
  type WeightsSource,
} from '../eval/eval-file';
import { parseAttackNames, parseEps, parseNorms, parseScales } from '../eval/parse-args';
import { EvalProgressPrinter } from '../eval/progress';
import { formatEvalTable } from '../eval/table';
import { buildWeightsModel, planWeightsModel, type WeightsModelPlan } from '../eval/weights-model';
import type { LogFormat } from '../reporter';

interface EvalArgs {
  run?: string;
  checkpoint?: string;
  weights?: string;
  arch?: string;
  dataset?: string;
  depth?: number;
  widen?: number;
  'data-dir'?: string;
  'progress-every'?: number;
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
$0 eval --weights model.safetensors [--arch A --dataset D] [options]

Robust accuracy of every peer of a run's checkpoint and of the peers' ensemble (averaged logits) under
attacks × norms × radii, with the per-sample worst case ("union") over the attacks of each norm and over
all norms. Prints a table and writes runs/<name>/eval-step<S>-<attacks>-<norms>.json (see --out): accuracies,
the images each attack broke, and the seconds per attack (docs/eval-format.md). Progress goes to stdout as
text or JSON lines (--log-format), every --progress-every seconds.

--weights evaluates one model file instead: written by \`mat export\` (MAT or PyTorch layout), or a state_dict
of the reference PyTorch models saved with safetensors; --arch/--dataset (and --depth/--widen for wide-resnet)
fill in what the file's metadata does not say. Results go beside the file: <file>.eval-<attacks>-<norms>.json.

Without --attacks/--norms/--eps it runs the run's own evaluation attack (PGD, config eval.attack).
Default radii per dataset (--norms without --eps): fashion-mnist linf 0.1, l2 1.5, l1 10;
mnist linf 0.3, l2 2, l1 10; cifar10/cifar100 linf 8/255, l2 0.5, l1 12.

Attacks: pgd, cw (PGD on the CW margin), apgd-ce, apgd-dlr, apgd-t (targeted DLR), square (linf, l2;
no gradients), fgsm.

Examples:
  mat eval runs/quick
  mat eval runs/quick --attacks pgd,apgd-ce,apgd-t,square --norms linf,l2,l1 --eps linf=0.1,l2=1.5,l1=10
  mat eval runs/quick --attacks pgd,apgd-ce --norms linf --eps-scales 0.25,0.5,1,1.5,2 --test-subset 500
  mat eval --weights runs/quick/exports/peer0-step240.pytorch.safetensors --attacks apgd-ce`;

export function evalCommand(yargs: Argv): Argv {
  return yargs.command<EvalArgs>(
    'eval [run]',
    'Robust accuracy of each peer and the ensemble: attacks × norms × eps, with union accuracy',
    (y) =>
      y
        .usage(USAGE)
        .positional('run', {
          type: 'string',
          describe: 'Run directory (holds config.json); optional with --weights',
        })
        .option('checkpoint', {
          type: 'string',
          describe: 'Checkpoint directory (default: the newest of the run)',
        })
        .option('weights', {
          type: 'string',
          describe: 'Evaluate this model file (safetensors, MAT or PyTorch layout) instead of a checkpoint',
        })
        .option('arch', { type: 'string', describe: 'With --weights: architecture, if not in the file' })
        .option('dataset', { type: 'string', describe: 'With --weights: dataset, if not in the file' })
        .option('depth', { type: 'number', describe: 'With --weights: WideResNet depth, if not in the file' })
        .option('widen', { type: 'number', describe: 'With --weights: WideResNet width, if not in the file' })
        .option('data-dir', {
          type: 'string',
          describe: 'Where the datasets are (default: data, or the run’s)',
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
        .option('log-format', { choices: ['text', 'json'] as const, default: 'text' as LogFormat })
        .option('progress-every', {
          type: 'number',
          default: 10,
          describe: 'Seconds between progress lines (0: one per attack batch); a terminal shows a live line',
        }),
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

/** The models one `mat eval` evaluates, where they came from, and where the results go by default. */
interface EvalSubject {
  config: RunConfig;
  targets: EvalTarget[];
  /** What the first line says about the source. */
  describe: string;
  /** The eval file's fields that name the source. */
  header: Pick<WeightsEvalFile, 'run' | 'checkpoint' | 'step' | 'weightsSha256'> & {
    weights?: WeightsSource;
  };
  defaultOut(suite: SuiteNames): string;
  dispose(): void;
}

function readRunConfig(run: string): RunConfig {
  const configFile = path.join(run, 'config.json');
  if (!fs.existsSync(configFile)) throw new Error(`${run}: no config.json; is it a run directory?`);
  return parseRunConfig(readConfigFile(configFile), configFile);
}

/** Every peer of the run's checkpoint, and their ensemble. */
function checkpointSubject(
  a: EvalArgs,
  run: string,
  config: RunConfig,
  test: Dataset,
  warn: (message: string) => void,
): EvalSubject {
  // The newest complete checkpoint; one whose writing was cut short is skipped with a warning.
  const ckptDir = a.checkpoint ?? newestCheckpoint(run, warn)?.dir;
  if (!ckptDir)
    throw new Error(`${run}: no complete checkpoint found under ${path.join(run, 'checkpoints')}`);
  const peers = createPeers(config, test);
  const dispose = () =>
    peers.forEach((p) => {
      p.model.dispose();
      p.optimizer.dispose();
    });
  try {
    const manifest = loadCheckpoint(ckptDir, peers);
    const targets: EvalTarget[] = peers.map((p) => ({
      name: `peer ${p.index}`,
      peer: p.index,
      model: p.model,
    }));
    if (a.ensemble && peers.length > 1) {
      targets.push({ name: 'ensemble', model: new EnsembleModel(peers.map((p) => p.model)) });
    }
    return {
      config,
      targets,
      describe: `checkpoint ${ckptDir} (step ${manifest.step})`,
      header: {
        run: config.name,
        checkpoint: ckptDir,
        step: manifest.step,
        weightsSha256: checkpointDigest(ckptDir),
      },
      defaultOut: (names) => path.join(run, evalFileName(manifest.step, names)),
      dispose,
    };
  } catch (err) {
    dispose();
    throw err;
  }
}

/** The one model of a weights file (planned before the dataset is loaded: the plan names the dataset). */
function weightsSubject(a: EvalArgs & { weights: string }, plan: WeightsModelPlan): EvalSubject {
  const { model, layout } = buildWeightsModel(plan, a.weights);
  const meta = plan.metadata;
  const peer = meta.peer !== undefined && /^\d+$/.test(meta.peer) ? Number(meta.peer) : undefined;
  const step = meta.step !== undefined && /^\d+$/.test(meta.step) ? Number(meta.step) : null;
  return {
    config: plan.config,
    targets: [{ name: peer !== undefined ? `peer ${peer}` : 'model', peer, model }],
    describe: `weights ${a.weights} (${plan.config.model.arch}, ${layout} layout${step !== null ? `, step ${step}` : ''})`,
    header: {
      run: meta.run ?? null,
      checkpoint: meta.checkpoint ?? null,
      step,
      weightsSha256: fileSha256Sync(a.weights),
      weights: { file: a.weights, layout, arch: plan.config.model.arch, metadata: meta },
    },
    defaultOut: (names) => weightsEvalPath(a.weights, names),
    dispose: () => model.dispose(),
  };
}

export async function runEval(a: EvalArgs): Promise<void> {
  if (a.run === undefined && a.weights === undefined)
    throw new Error('name a run directory (mat eval runs/<name>) or a model file (--weights file)');
  if (a.weights !== undefined && a.checkpoint !== undefined)
    throw new Error('--checkpoint and --weights both name the model: give one');
  const runConfig = a.run !== undefined ? readRunConfig(a.run) : undefined;
  const plan =
    a.weights !== undefined ? planWeightsModel({ ...a, weights: a.weights }, runConfig) : undefined;
  const config = plan?.config ?? (runConfig as RunConfig);
  if (a['data-dir'] !== undefined) config.data.dataDir = a['data-dir'];
  // Range-checked with every numeric flag before any command runs (numeric-flags.ts).
  const progressEvery = a['progress-every'] ?? 10;
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

  let test = await loadDataset(config.data.dataset, 'test', { dataDir: config.data.dataDir });
  const count = a['test-subset'] ?? config.data.testSubset;
  if (count) test = subset(test, Math.min(count, test.count));

  const subject =
    a.weights !== undefined
      ? weightsSubject({ ...a, weights: a.weights }, plan as WeightsModelPlan)
      : checkpointSubject(a, a.run as string, config, test, (m) => say(`warning: ${m}`));
  try {
    // A checkpoint holding NaN or ±Infinity is refused when it is loaded; a model whose outputs are not
    // finite all the same has no accuracy either.
    for (const t of subject.targets)
      assertFiniteOutputs(t.model, test, config.eval.batchSize, `${t.name} of ${subject.describe}`);
    const epsText = Object.entries(suite.eps)
      .map(([n, e]) => `${n} ${+(e as number).toPrecision(4)}`)
      .join(', ');
    say(
      `${subject.describe}; ${suite.attacks.map((s) => s.name).join(', ')} at ${epsText}` +
        `${suite.scales && suite.scales.length > 1 ? ` × [${suite.scales}]` : ''}; ${test.count} test images`,
      { ...subject.header, suite },
    );
    const out = a.out ?? subject.defaultOut(suite);
    assertEvalFileWritable(out); // before hours of attacks, not after
    const progress = new EvalProgressPrinter({
      format: a['log-format'],
      out: process.stdout,
      intervalMs: 1000 * progressEvery,
    });
    const result = runEvalSuite(
      subject.targets,
      test,
      { ...suite, batchSize: a['batch-size'] ?? config.eval.batchSize, seed: config.seed },
      { onProgress: progress.update, onModelDone: progress.modelDone },
    );
    progress.clear();
    const file = {
      kind: 'mat-eval' as const,
      version: 1 as const,
      ...subject.header,
      dataset: config.data.dataset,
      backend: backend.name,
      createdAt: new Date().toISOString(),
      ...result,
    };
    writeEvalFile(out, file as EvalFile | WeightsEvalFile);
    const step = subject.header.step;
    if (json) {
      // The per-image index lists stay in the file: a log line should not grow with the test set.
      const models = result.models.map(({ cleanWrong: _c, results, ...m }) => ({
        ...m,
        results: results.map(({ broken: _b, ...r }) => r),
      }));
      process.stdout.write(
        JSON.stringify({ time: new Date().toISOString(), type: 'eval-suite', file: out, ...result, models }) +
          '\n',
      );
    } else {
      process.stdout.write(
        `\nrobust accuracy${step !== null ? ` at step ${step}` : ''} (${result.count} test images, ${result.seconds.toFixed(0)} s):\n` +
          formatEvalTable(result) +
          (result.skipped.length
            ? `\nskipped: ${result.skipped.map((s) => `${s.attack} ${s.norm}`).join(', ')}`
            : '') +
          `\nresults: ${out}\n`,
      );
    }
  } finally {
    subject.dispose();
  }
}
