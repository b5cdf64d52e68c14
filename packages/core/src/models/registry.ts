import type { ArchDefinition, ArchOptions } from './arch';
import { fmnistCnn } from './fmnist-cnn';
import { type NormalizeOptions, validateNormalize } from './layers/input-normalization';
import { ParamBuilder, type ParamSpec } from './layers/params';
import { LayeredModel } from './layered-model';
import type { Model } from './model';
import { preactResnet18 } from './preact-resnet18';
import { resnet18 } from './resnet18';
import { wideResnet } from './wide-resnet';

/** Every architecture `createModel` knows, by name. The CLI's `--arch` and the registry-wide tests use this list. */
export const ARCHITECTURES: readonly ArchDefinition[] = [fmnistCnn, preactResnet18, resnet18, wideResnet];

export const MODEL_ARCHS: readonly string[] = ARCHITECTURES.map((a) => a.name);

export interface ModelOptions {
  /** Seed of the weight initialisation: same seed → identical initial weights on every backend. */
  seed: number;
  /** @defaultValue 10 */
  numClasses?: number;
  /** [height, width, channels]. @defaultValue the architecture's (28×28×1 for fmnist-cnn, 32×32×3 otherwise) */
  inputShape?: [number, number, number];
  /** wide-resnet only. @defaultValue 34 */
  depth?: number;
  /** wide-resnet only. @defaultValue 10 */
  widen?: number;
  /** Per-channel input normalisation applied inside the model (inputs stay in [0, 1]). @defaultValue none */
  normalize?: NormalizeOptions;
  /**
   * Allocate zero-filled weights instead of random ones, for a model whose weights are loaded right afterwards
   * (saves generating 46M random numbers for WRN-34-10). @defaultValue false
   */
  skipInit?: boolean;
}

export function getArchitecture(arch: string): ArchDefinition {
  const found = ARCHITECTURES.find((a) => a.name === arch);
  if (!found) throw new Error(`unknown model architecture '${arch}'; known: ${MODEL_ARCHS.join(', ')}`);
  return found;
}

function resolveOptions(def: ArchDefinition, options: Omit<ModelOptions, 'seed'>): ArchOptions {
  const { numClasses = 10, inputShape = def.defaultInputShape, depth, widen } = options;
  if (!Number.isInteger(numClasses) || numClasses < 1) {
    throw new Error(`${def.name}: numClasses must be a positive integer, got ${numClasses}`);
  }
  if (
    !Array.isArray(inputShape) ||
    inputShape.length !== 3 ||
    !inputShape.every((d) => Number.isInteger(d) && d > 0)
  ) {
    throw new Error(
      `${def.name}: inputShape must be [height, width, channels] of positive integers, got ${JSON.stringify(inputShape)}`,
    );
  }
  for (const [key, value] of Object.entries({ depth, widen })) {
    if (value !== undefined && !def.extraOptions.includes(key as 'depth' | 'widen')) {
      throw new Error(`${def.name}: option '${key}' is not supported (only for wide-resnet)`);
    }
  }
  return { numClasses, inputShape: [inputShape[0], inputShape[1], inputShape[2]], depth, widen };
}

/** Builds a registered architecture with freshly initialised weights. */
export function createModel(arch: string, options: ModelOptions): Model {
  const def = getArchitecture(arch);
  if (!Number.isInteger(options.seed))
    throw new Error(`${arch}: seed must be an integer, got ${options.seed}`);
  const resolved = resolveOptions(def, options);
  if (options.normalize !== undefined) validateNormalize(options.normalize, resolved.inputShape[2]);
  const builder = new ParamBuilder();
  const network = def.build(builder, resolved);
  const { params, buffers } = builder.materialise(options.seed, options.skipInit === true);
  return new LayeredModel(
    arch,
    resolved.inputShape,
    resolved.numClasses,
    network,
    params,
    buffers,
    options.normalize,
  );
}

/** The weights an architecture would have (names, shapes, trainable), without allocating them. */
export function describeModel(
  arch: string,
  options: Omit<ModelOptions, 'seed' | 'skipInit'> = {},
): readonly ParamSpec[] {
  const def = getArchitecture(arch);
  const builder = new ParamBuilder();
  def.build(builder, resolveOptions(def, options));
  return builder.specs;
}

/** Number of trainable parameters (buffers excluded, as PyTorch's `sum(p.numel() for p in parameters())`). */
export function countParams(arch: string, options: Omit<ModelOptions, 'seed' | 'skipInit'> = {}): number {
  return describeModel(arch, options)
    .filter((s) => s.trainable)
    .reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
}
