import * as fs from 'fs';
import * as path from 'path';
import type { Argv } from 'yargs';
import {
  decodeTensorFile,
  exportWeightsForPyTorch,
  findCommittedCheckpoint,
  MAT_WEIGHTS_FORMAT,
  modelFromCheckpoint,
  parseRunConfig,
  PYTORCH_WEIGHTS_FORMAT,
  readCheckpointPeerWeights,
  readWeightFileBytes,
  saveModelWeights,
  selectBackend,
  type RunConfig,
} from '@mat/core';
import { readConfigFile } from '../config-file';
import type { LogFormat } from '../reporter';

export type ExportFormat = 'mat' | 'pytorch';

export interface ExportArgs {
  run: string;
  peer: number;
  step?: number;
  format: ExportFormat;
  out?: string;
  'log-format': LogFormat;
}

const USAGE = `$0 export <run> [--peer i] [--step S] [--format mat|pytorch] [--out file]

Writes one trained peer of a run as a safetensors model file, from the run's newest committed checkpoint (or
the one at --step). Only the model is written (weights and batch-norm running statistics, not the optimizer's
momentum). The file's metadata names the architecture, dataset, run, peer and step, so \`mat eval --weights\`
needs nothing else.

  --format mat      MAT names and tfjs layouts (as saveModelWeights; docs/weights-format.md)
  --format pytorch  PyTorch names and layouts, with num_batches_tracked: loads with
                    model.load_state_dict(safetensors.torch.load_file(file), strict=True) into the
                    reference models of scripts/reference/torch_models.py; inputs NCHW in [0, 1], no normalisation

Default output: <run>/exports/peer<i>-step<S>.safetensors (.pytorch.safetensors for --format pytorch).
An uncommitted checkpoint (no manifest.json) or one with NaN or infinite weights is refused.

Examples:
  mat export runs/quick
  mat export runs/quick --peer 1 --format pytorch --out peer1.safetensors`;

export function exportCommand(yargs: Argv): Argv {
  return yargs.command<ExportArgs>(
    'export <run>',
    "Write one peer's trained model from a checkpoint to a safetensors file (MAT or PyTorch layout)",
    (y) =>
      y
        .usage(USAGE)
        .positional('run', {
          type: 'string',
          demandOption: true,
          describe: 'Run directory (holds config.json)',
        })
        .option('peer', { type: 'number', default: 0, describe: 'Which peer' })
        .option('step', { type: 'number', describe: 'Checkpoint step (default: the newest committed)' })
        .option('format', {
          choices: ['mat', 'pytorch'] as const,
          default: 'mat' as ExportFormat,
          describe: 'Names and layouts of the file',
        })
        .option('out', { type: 'string', describe: 'Output file (default: <run>/exports/…)' })
        .option('log-format', { choices: ['text', 'json'] as const, default: 'text' as LogFormat }),
    async (args) => {
      await runExport(args);
    },
  );
}

export interface ExportResult {
  file: string;
  format: ExportFormat;
  run: string;
  peer: number;
  step: number;
  arch: string;
}

function readRunConfig(run: string): RunConfig {
  const configFile = path.join(run, 'config.json');
  if (!fs.existsSync(configFile)) throw new Error(`${run}: no config.json; is it a run directory?`);
  return parseRunConfig(readConfigFile(configFile), configFile);
}

/**
 * Refuses an output that would destroy something: anything inside the run's checkpoints, a directory, or an
 * existing file that is not a MAT model file (a previous export may be replaced; a config.json may not).
 */
function checkOutput(run: string, out: string): void {
  const checkpoints = path.resolve(run, 'checkpoints') + path.sep;
  if (path.resolve(out).startsWith(checkpoints))
    throw new Error(
      `--out ${out}: is inside the run's checkpoints (${checkpoints}); write the model elsewhere`,
    );
  if (!fs.existsSync(out)) return;
  if (fs.statSync(out).isDirectory()) throw new Error(`--out ${out}: is a directory; name the file to write`);
  let format: string | undefined;
  try {
    format = decodeTensorFile(readWeightFileBytes(out), out).metadata.format;
  } catch {
    format = undefined;
  }
  if (format !== MAT_WEIGHTS_FORMAT && format !== PYTORCH_WEIGHTS_FORMAT)
    throw new Error(`--out ${out}: exists and is not a MAT model file; remove it or choose another name`);
}

export async function runExport(a: ExportArgs): Promise<ExportResult> {
  if (!Number.isSafeInteger(a.peer) || a.peer < 0)
    throw new Error(`--peer: '${a.peer}' is not a peer index ≥ 0`);
  if (a.step !== undefined && (!Number.isSafeInteger(a.step) || a.step < 0))
    throw new Error(`--step: '${a.step}' is not a step ≥ 0`);
  const config = readRunConfig(a.run);
  const checkpoint = findCommittedCheckpoint(a.run, a.step);
  const weights = readCheckpointPeerWeights(checkpoint, a.peer);
  const suffix = a.format === 'pytorch' ? '.pytorch.safetensors' : '.safetensors';
  const out = a.out ?? path.join(a.run, 'exports', `peer${a.peer}-step${weights.step}${suffix}`);
  checkOutput(a.run, out);

  // Moving weights around needs no speed: the plain JavaScript backend starts fastest and runs anywhere.
  await selectBackend('cpu');
  const model = modelFromCheckpoint(config, weights);
  try {
    const metadata: Record<string, string> = {
      dataset: config.data.dataset,
      ...(config.model.depth !== undefined ? { depth: String(config.model.depth) } : {}),
      ...(config.model.widen !== undefined ? { widen: String(config.model.widen) } : {}),
      run: config.name,
      peer: String(a.peer),
      step: String(weights.step),
      seed: String(weights.seed),
      checkpoint: checkpoint.dir,
    };
    fs.mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
    if (a.format === 'pytorch') {
      // MAT updates the batch-norm running statistics once per training step.
      exportWeightsForPyTorch(model, out, metadata, weights.step);
    } else {
      saveModelWeights(model, out, metadata);
    }
  } finally {
    model.dispose();
  }
  const result: ExportResult = {
    file: out,
    format: a.format,
    run: config.name,
    peer: a.peer,
    step: weights.step,
    arch: config.model.arch,
  };
  if (a['log-format'] === 'json') {
    process.stdout.write(
      JSON.stringify({ time: new Date().toISOString(), type: 'export', ...result }) + '\n',
    );
  } else {
    process.stdout.write(
      `exported peer ${a.peer} of ${config.name} at step ${weights.step} (${config.model.arch}, ${a.format} layout): ${out}\n`,
    );
  }
  return result;
}
