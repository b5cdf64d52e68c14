import {
  applyWeightsFile,
  decodeTensorFile,
  defaultEvalEps,
  detectWeightsLayout,
  emptyRunModel,
  getDatasetSpec,
  parseRunConfig,
  readWeightFileBytes,
  type Model,
  type RunConfig,
  type TensorFile,
  type WeightsLayout,
} from '@mat/core';

/**
 * The model of `mat eval --weights <file>`: a MAT model file (`mat export --format mat`, saveModelWeights), a
 * PyTorch-layout one (`--format pytorch`, or a state_dict of the reference models saved with
 * safetensors.torch.save_file). Architecture, dataset and WideResNet size come from the flags, else the run's
 * config (when a run directory is given too), else the file's metadata; the flags and config must agree with the
 * metadata where both are present.
 */

export interface WeightsModelArgs {
  weights: string;
  arch?: string;
  dataset?: string;
  depth?: number;
  widen?: number;
  'data-dir'?: string;
}

export interface WeightsModelPlan {
  file: TensorFile;
  /** The run config to evaluate with: the run's, or defaults for the dataset (PGD at the dataset's l_inf eps). */
  config: RunConfig;
  metadata: Record<string, string>;
}

function pick(
  what: string,
  flag: string | number | undefined,
  configured: string | number | undefined,
  metadata: string | undefined,
  source: string,
): string | undefined {
  if (metadata !== undefined) {
    for (const [value, from] of [
      [flag, `--${what}`],
      [configured, 'the run config'],
    ] as const) {
      if (value !== undefined && String(value) !== metadata)
        throw new Error(`${source}: ${what} is ${metadata} in the file's metadata, ${from} says ${value}`);
    }
  }
  const chosen = flag ?? configured ?? metadata;
  return chosen === undefined ? undefined : String(chosen);
}

function optionalInt(what: string, text: string | undefined, source: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1)
    throw new Error(`${source}: ${what} '${text}' is not an integer ≥ 1`);
  return n;
}

/** Reads the file and works out what model and dataset it is for; `runConfig` is the run's, if one was named. */
export function planWeightsModel(a: WeightsModelArgs, runConfig?: RunConfig): WeightsModelPlan {
  const source = a.weights;
  const file = decodeTensorFile(readWeightFileBytes(source), source);
  detectWeightsLayout(file, source); // a checkpoint file, or unknown names: say so before anything else
  const meta = file.metadata;
  const arch = pick('arch', a.arch, runConfig?.model.arch, meta.arch, source);
  if (arch === undefined)
    throw new Error(`${source}: no arch in the file's metadata; name the architecture with --arch`);
  const dataset = pick('dataset', a.dataset, runConfig?.data.dataset, meta.dataset, source);
  if (dataset === undefined)
    throw new Error(`${source}: no dataset in the file's metadata; name it with --dataset`);
  const depth = optionalInt(
    'depth',
    pick('depth', a.depth, runConfig?.model.depth, meta.depth, source),
    source,
  );
  const widen = optionalInt(
    'widen',
    pick('widen', a.widen, runConfig?.model.widen, meta.widen, source),
    source,
  );
  const spec = getDatasetSpec(dataset);
  if (meta.numClasses !== undefined && meta.numClasses !== String(spec.numClasses)) {
    throw new Error(`${source}: the model has ${meta.numClasses} classes, ${dataset} has ${spec.numClasses}`);
  }
  if (meta.inputShape !== undefined && meta.inputShape !== JSON.stringify(spec.shape)) {
    throw new Error(
      `${source}: the model takes images of shape ${meta.inputShape}, ${dataset} has ${JSON.stringify(spec.shape)}`,
    );
  }
  const model = {
    arch,
    ...(depth !== undefined ? { depth } : {}),
    ...(widen !== undefined ? { widen } : {}),
  };
  const config = runConfig
    ? parseRunConfig({ ...runConfig, model }, 'run config with the weights file')
    : parseRunConfig(
        {
          seed: meta.seed !== undefined ? Number(meta.seed) : 0,
          data: { dataset, dataDir: a['data-dir'] ?? 'data' },
          model,
          eval: { attack: { norm: 'linf', eps: defaultEvalEps(dataset).linf, steps: 20 } },
        },
        `settings for ${source}`,
      );
  if (a['data-dir'] !== undefined) config.data.dataDir = a['data-dir'];
  return { file, config, metadata: meta };
}

/** Builds the planned model and assigns the file's weights (any problem: an Error naming the file). */
export function buildWeightsModel(
  plan: WeightsModelPlan,
  source: string,
): { model: Model; layout: WeightsLayout } {
  const model = emptyRunModel(plan.config);
  try {
    return { model, layout: applyWeightsFile(model, plan.file, source) };
  } catch (err) {
    model.dispose();
    throw err;
  }
}
