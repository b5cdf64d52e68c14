import { writeFileAtomic } from '../run/atomic-write';
import type { Model } from './model';
import {
  applyEntriesToModel,
  assertFiniteEntries,
  decodeTensorFile,
  encodeTensorFile,
  modelMetadata,
  MAT_WEIGHTS_FORMAT,
  modelToEntries,
  readWeightFileBytes,
  type TensorEntry,
  type TensorFile,
} from './weights-file';

/**
 * Mapping between MAT weights (tfjs layouts) and PyTorch state_dicts of the reference models in
 * scripts/reference/torch_models.py (docs/weights-format.md):
 *
 *   names   MAT `<module path>.<leaf>` → PyTorch `<module path>.<torch leaf>`; the module paths are the same, the
 *           leaves map kernel→weight, bias→bias, gamma→weight, beta→bias, runningMean→running_mean,
 *           runningVar→running_var. PyTorch's `num_batches_tracked` (int64, one per batch norm) has no MAT
 *           counterpart: exports write it (the number of training steps, as MAT updates the running statistics
 *           once per step) so that `load_state_dict(strict=True)` accepts the file; imports ignore it.
 *   conv    tfjs [kh, kw, in, out]  ↔  PyTorch [out, in, kh, kw]
 *   dense   tfjs [in, out]          ↔  PyTorch [out, in]
 *   flatten a dense kernel listed in `model.flattenedInputs` with map [H, W, C] has its input rows in NHWC order
 *           (h·W + w)·C + c; PyTorch's columns are NCHW order c·H·W + h·W + w, so rows are permuted too.
 *   vectors (biases, batch-norm) are unchanged.
 */

/** `__metadata__.format` of files in PyTorch names and layouts. */
export const PYTORCH_WEIGHTS_FORMAT = 'mat-weights-pytorch';

const LEAF_TO_TORCH: Record<string, string> = {
  kernel: 'weight',
  bias: 'bias',
  gamma: 'weight',
  beta: 'bias',
  runningMean: 'running_mean',
  runningVar: 'running_var',
};

/** PyTorch state_dict key of a MAT weight name, e.g. `layer1.0.bn1.gamma` → `layer1.0.bn1.weight`. */
export function torchName(name: string): string {
  const dot = name.lastIndexOf('.');
  const leaf = name.slice(dot + 1);
  const torchLeaf = LEAF_TO_TORCH[leaf];
  if (torchLeaf === undefined)
    throw new Error(`weight '${name}' has no PyTorch name (unknown leaf '${leaf}')`);
  return `${name.slice(0, dot + 1)}${torchLeaf}`;
}

/** tfjs conv kernel [kh, kw, in, out] → PyTorch [out, in, kh, kw]. */
export function convKernelToTorch(data: Float32Array, shape: readonly number[]): Float32Array {
  const [kh, kw, cin, cout] = shape;
  const out = new Float32Array(data.length);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let i = 0; i < cin; i++)
        for (let o = 0; o < cout; o++)
          out[((o * cin + i) * kh + y) * kw + x] = data[((y * kw + x) * cin + i) * cout + o];
  return out;
}

/** PyTorch conv weight [out, in, kh, kw] → tfjs [kh, kw, in, out]. */
export function convKernelFromTorch(data: Float32Array, torchShape: readonly number[]): Float32Array {
  const [cout, cin, kh, kw] = torchShape;
  const out = new Float32Array(data.length);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let i = 0; i < cin; i++)
        for (let o = 0; o < cout; o++)
          out[((y * kw + x) * cin + i) * cout + o] = data[((o * cin + i) * kh + y) * kw + x];
  return out;
}

/** Row r of a tfjs dense kernel → column of the PyTorch weight (NHWC→NCHW when the input is a flattened map). */
function torchColumn(rows: number, flattenedFrom?: readonly [number, number, number]): (r: number) => number {
  if (flattenedFrom === undefined) return (r) => r;
  const [h, w, c] = flattenedFrom;
  if (h * w * c !== rows)
    throw new Error(`flattened map [${h}, ${w}, ${c}] does not match ${rows} kernel rows`);
  return (r) => {
    const cc = r % c;
    const pixel = (r - cc) / c; // hh·W + ww
    return cc * h * w + pixel;
  };
}

/** tfjs dense kernel [in, out] → PyTorch [out, in], permuting rows NHWC→NCHW if `flattenedFrom` is given. */
export function denseKernelToTorch(
  data: Float32Array,
  shape: readonly number[],
  flattenedFrom?: readonly [number, number, number],
): Float32Array {
  const [rows, cols] = shape;
  const column = torchColumn(rows, flattenedFrom);
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) {
    const tc = column(r);
    for (let o = 0; o < cols; o++) out[o * rows + tc] = data[r * cols + o];
  }
  return out;
}

/** PyTorch linear weight [out, in] → tfjs [in, out], the inverse of denseKernelToTorch. */
export function denseKernelFromTorch(
  data: Float32Array,
  torchShape: readonly number[],
  flattenedFrom?: readonly [number, number, number],
): Float32Array {
  const [cols, rows] = torchShape;
  const column = torchColumn(rows, flattenedFrom);
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) {
    const tc = column(r);
    for (let o = 0; o < cols; o++) out[r * cols + o] = data[o * rows + tc];
  }
  return out;
}

function torchShapeOf(shape: readonly number[]): number[] {
  if (shape.length === 4) return [shape[3], shape[2], shape[0], shape[1]];
  if (shape.length === 2) return [shape[1], shape[0]];
  return [...shape];
}

/** The model's params and buffers under PyTorch names and layouts. */
export function toPyTorchEntries(model: Model): TensorEntry[] {
  return modelToEntries(model).map(({ name, shape, data }) => {
    const f32 = data as Float32Array;
    let converted = f32;
    if (shape.length === 4) converted = convKernelToTorch(f32, shape);
    else if (shape.length === 2) converted = denseKernelToTorch(f32, shape, model.flattenedInputs?.[name]);
    return { name: torchName(name), shape: torchShapeOf(shape), dtype: 'float32' as const, data: converted };
  });
}

const RUNNING_MEAN = '.runningMean';

/**
 * PyTorch's `<bn>.num_batches_tracked` (int64 scalar) for every batch norm of the model, set to `count`; a
 * batch norm is a module with a `runningMean` buffer.
 */
export function numBatchesTrackedEntries(model: Model, count: number): TensorEntry[] {
  if (!Number.isSafeInteger(count) || count < 0)
    throw new Error(`num_batches_tracked must be an integer ≥ 0, got ${count}`);
  return model.buffers
    .filter((b) => b.name.endsWith(RUNNING_MEAN))
    .map((b) => ({
      name: `${b.name.slice(0, -RUNNING_MEAN.length)}.num_batches_tracked`,
      shape: [],
      dtype: 'int64' as const,
      data: BigInt64Array.from([BigInt(count)]),
    }));
}

/**
 * The complete PyTorch state_dict of the model: `toPyTorchEntries` plus every batch norm's
 * `num_batches_tracked` (`batchesTracked`), each right after its `running_var` as in PyTorch's own order.
 */
export function toPyTorchStateDict(model: Model, batchesTracked = 0): TensorEntry[] {
  const counters = new Map(
    numBatchesTrackedEntries(model, batchesTracked).map((e) => [
      e.name.replace(/num_batches_tracked$/, 'running_var'),
      e,
    ]),
  );
  return toPyTorchEntries(model).flatMap((e) => {
    const counter = counters.get(e.name);
    return counter ? [e, counter] : [e];
  });
}

/**
 * PyTorch-named entries → MAT names and layouts for `applyEntriesToModel`. Entries that do not correspond to a
 * model weight (or have the wrong shape) are passed through unconverted so the apply step reports them;
 * `*.num_batches_tracked` is ignored.
 */
export function fromPyTorchEntries(model: Model, entries: readonly TensorEntry[]): TensorEntry[] {
  const byTorchName = new Map([...model.params, ...model.buffers].map((v) => [torchName(v.name), v]));
  return entries
    .filter((e) => !e.name.endsWith('.num_batches_tracked'))
    .map((entry) => {
      const target = byTorchName.get(entry.name);
      if (target === undefined) return entry;
      const shape = target.variable.shape;
      const expected = torchShapeOf(shape);
      const fits =
        entry.dtype === 'float32' &&
        entry.shape.length === expected.length &&
        entry.shape.every((d, i) => d === expected[i]);
      if (!fits) return { ...entry, name: target.name };
      const f32 = entry.data as Float32Array;
      let data = f32;
      if (shape.length === 4) data = convKernelFromTorch(f32, entry.shape);
      else if (shape.length === 2)
        data = denseKernelFromTorch(f32, entry.shape, model.flattenedInputs?.[target.name]);
      return { name: target.name, shape: [...shape], dtype: 'float32' as const, data };
    });
}

/**
 * Writes a safetensors file that `model.load_state_dict(load_file(path), strict=True)` of the PyTorch reference
 * accepts; `batchesTracked` fills the batch norms' `num_batches_tracked`.
 */
export function exportWeightsForPyTorch(
  model: Model,
  path: string,
  metadata: Record<string, string> = {},
  batchesTracked = 0,
): void {
  const meta = { ...modelMetadata(model), format: PYTORCH_WEIGHTS_FORMAT, ...metadata };
  writeFileAtomic(path, encodeTensorFile(toPyTorchStateDict(model, batchesTracked), meta));
}

/** Loads a PyTorch-layout safetensors file (e.g. from exportWeightsForPyTorch or a converted state_dict). */
export function importWeightsFromPyTorch(model: Model, path: string): Record<string, string> {
  const { entries, metadata } = decodeTensorFile(readWeightFileBytes(path), path);
  applyEntriesToModel(model, fromPyTorchEntries(model, entries), path);
  return metadata;
}

/** Which names and layouts a model file uses: MAT's (tfjs) or PyTorch's. */
export type WeightsLayout = 'mat' | 'pytorch';

const MAT_LEAVES = new Set(Object.keys(LEAF_TO_TORCH).filter((leaf) => leaf !== 'bias'));
const TORCH_LEAVES = new Set(['weight', 'running_mean', 'running_var', 'num_batches_tracked']);

/**
 * The layout of a decoded model file: from `__metadata__.format` when MAT wrote it, otherwise from the tensor
 * names (PyTorch's `weight` / `running_mean` leaves, or MAT's `kernel` / `gamma` / `runningMean`). A MAT
 * checkpoint file, or a file whose names fit neither or both, is an Error naming `source`.
 */
export function detectWeightsLayout(
  file: { entries: readonly TensorEntry[]; metadata: Record<string, string> },
  source: string,
): WeightsLayout {
  const format = file.metadata.format;
  if (format === MAT_WEIGHTS_FORMAT) return 'mat';
  if (format === PYTORCH_WEIGHTS_FORMAT) return 'pytorch';
  if (format === 'mat-checkpoint') {
    throw new Error(
      `${source}: is one peer's file of a MAT checkpoint (param/…, buffer/…, momentum/…), not a model file; ` +
        'evaluate the run (mat eval <runDir>) or export the peer first (mat export <runDir> --peer i)',
    );
  }
  const leaves = file.entries.map((e) => e.name.slice(e.name.lastIndexOf('.') + 1));
  const mat = leaves.some((l) => MAT_LEAVES.has(l));
  const torch = leaves.some((l) => TORCH_LEAVES.has(l));
  if (mat !== torch) return mat ? 'mat' : 'pytorch';
  throw new Error(
    `${source}: cannot tell whether the tensor names are MAT's (…kernel, …gamma, …runningMean) or PyTorch's ` +
      `(…weight, …running_mean)${mat ? ': it has both' : ''}`,
  );
}

/**
 * Assigns a decoded model file in either layout (detectWeightsLayout) to `model`, after checking that every
 * weight is finite; on any error the model is unchanged. Returns the layout.
 */
export function applyWeightsFile(model: Model, file: TensorFile, source: string): WeightsLayout {
  const layout = detectWeightsLayout(file, source);
  const entries = layout === 'pytorch' ? fromPyTorchEntries(model, file.entries) : file.entries;
  assertFiniteEntries(entries, source);
  applyEntriesToModel(model, entries, source);
  return layout;
}

/** Reads a model file in either layout into `model` (applyWeightsFile); returns its metadata and layout. */
export function loadWeightsFile(
  model: Model,
  path: string,
): { metadata: Record<string, string>; layout: WeightsLayout } {
  const file = decodeTensorFile(readWeightFileBytes(path), path);
  return { metadata: file.metadata, layout: applyWeightsFile(model, file, path) };
}
