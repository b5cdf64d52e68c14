import { writeFileAtomic } from '../run/atomic-write';
import type { Model } from './model';
import {
  applyEntriesToModel,
  decodeTensorFile,
  encodeTensorFile,
  modelMetadata,
  modelToEntries,
  readWeightFileBytes,
  type TensorEntry,
} from './weights-file';

/**
 * Mapping between MAT weights (tfjs layouts) and PyTorch state_dicts of the reference models in
 * scripts/reference/torch_models.py (docs/weights-format.md):
 *
 *   names   MAT `<module path>.<leaf>` → PyTorch `<module path>.<torch leaf>`; the module paths are the same, the
 *           leaves map kernel→weight, bias→bias, gamma→weight, beta→bias, runningMean→running_mean,
 *           runningVar→running_var. PyTorch's `num_batches_tracked` has no MAT counterpart (load with
 *           `strict=False`; it is unused when momentum is set).
 *   conv    tfjs [kh, kw, in, out]  ↔  PyTorch [out, in, kh, kw]
 *   dense   tfjs [in, out]          ↔  PyTorch [out, in]
 *   flatten a dense kernel listed in `model.flattenedInputs` with map [H, W, C] has its input rows in NHWC order
 *           (h·W + w)·C + c; PyTorch's columns are NCHW order c·H·W + h·W + w, so rows are permuted too.
 *   vectors (biases, batch-norm) are unchanged.
 */

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

/** Writes a safetensors file that `model.load_state_dict(..., strict=False)` of the PyTorch reference accepts. */
export function exportWeightsForPyTorch(
  model: Model,
  path: string,
  metadata: Record<string, string> = {},
): void {
  const meta = { ...modelMetadata(model), format: 'mat-weights-pytorch', ...metadata };
  writeFileAtomic(path, encodeTensorFile(toPyTorchEntries(model), meta));
}

/** Loads a PyTorch-layout safetensors file (e.g. from exportWeightsForPyTorch or a converted state_dict). */
export function importWeightsFromPyTorch(model: Model, path: string): Record<string, string> {
  const { entries, metadata } = decodeTensorFile(readWeightFileBytes(path), path);
  applyEntriesToModel(model, fromPyTorchEntries(model, entries), path);
  return metadata;
}
