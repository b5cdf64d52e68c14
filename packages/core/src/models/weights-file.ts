import { readFileSync } from 'node:fs';
import { endianness } from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { writeFileAtomic } from '../run/atomic-write';
import type { Model } from './model';

/**
 * MAT weight files use the safetensors format (https://github.com/huggingface/safetensors), so Python can read
 * them with `safetensors.numpy.load_file` or a few lines of `struct` + `json` (docs/weights-format.md):
 *
 *   [8 bytes]  N = header length, unsigned 64-bit little-endian
 *   [N bytes]  UTF-8 JSON: { "<name>": { "dtype": "F32" | "I32" | "I64", "shape": [...], "data_offsets": [begin, end] },
 *                            "__metadata__": { "<key>": "<string value>" } }, padded with spaces to 8-byte alignment
 *   [rest]     raw little-endian tensor data; offsets are relative to the start of this area, and the tensors
 *              tile it exactly (no overlaps, no gaps), in the order they were given to `encodeTensorFile`.
 *
 * Model weights are stored under the NamedVariable names (params, then buffers) in tfjs layouts; checkpoints
 * of the trainer reuse encode/decode with their own entries.
 */

/** int64 exists for PyTorch's `num_batches_tracked` counters (exported, and present in imported state_dicts). */
export type TensorDType = 'float32' | 'int32' | 'int64';

export interface TensorEntry {
  name: string;
  shape: number[];
  dtype: TensorDType;
  data: Float32Array | Int32Array | BigInt64Array;
}

export interface TensorFile {
  /** In file (data offset) order. */
  entries: TensorEntry[];
  /** The same entries by name. */
  tensors: Map<string, TensorEntry>;
  metadata: Record<string, string>;
}

const FILE_DTYPE: Record<TensorDType, string> = { float32: 'F32', int32: 'I32', int64: 'I64' };
const FROM_FILE_DTYPE: Record<string, TensorDType> = { F32: 'float32', I32: 'int32', I64: 'int64' };
const ARRAY_TYPE = { float32: Float32Array, int32: Int32Array, int64: BigInt64Array } as const;
const METADATA_KEY = '__metadata__';

function assertLittleEndianHost(): void {
  if (endianness() !== 'LE') throw new Error('MAT weight files need a little-endian host');
}

function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function isShape(shape: unknown): shape is number[] {
  return Array.isArray(shape) && shape.every((d) => Number.isSafeInteger(d) && d >= 0);
}

/** Serialises tensors and string metadata to safetensors bytes. */
export function encodeTensorFile(
  entries: readonly TensorEntry[],
  metadata: Record<string, string> = {},
): Uint8Array {
  assertLittleEndianHost();
  const header: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(metadata)) {
    if (typeof value !== 'string') throw new Error(`metadata '${key}' must be a string, got ${typeof value}`);
  }
  header[METADATA_KEY] = { ...metadata };
  let offset = 0;
  for (const { name, shape, dtype, data } of entries) {
    if (name === '' || name === METADATA_KEY) throw new Error(`invalid tensor name '${name}'`);
    if (Object.prototype.hasOwnProperty.call(header, name))
      throw new Error(`duplicate tensor name '${name}'`);
    if (!isShape(shape)) throw new Error(`tensor '${name}' has invalid shape ${JSON.stringify(shape)}`);
    const expectedType = Object.prototype.hasOwnProperty.call(ARRAY_TYPE, dtype) ? ARRAY_TYPE[dtype] : null;
    if (expectedType === null) throw new Error(`tensor '${name}' has unsupported dtype '${dtype}'`);
    if (!(data instanceof expectedType))
      throw new Error(`tensor '${name}': data is not a ${expectedType.name}`);
    if (data.length !== elementCount(shape)) {
      throw new Error(`tensor '${name}': ${data.length} values do not fill shape [${shape.join(', ')}]`);
    }
    const end = offset + data.byteLength;
    header[name] = { dtype: FILE_DTYPE[dtype], shape: [...shape], data_offsets: [offset, end] };
    offset = end;
  }
  let json = JSON.stringify(header);
  // Pad so that the data area starts 8-byte aligned, as the safetensors writer does.
  while ((8 + Buffer.byteLength(json, 'utf8')) % 8 !== 0) json += ' ';
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  const view = new DataView(out.buffer);
  view.setUint32(0, headerBytes.length, true);
  view.setUint32(4, Math.floor(headerBytes.length / 2 ** 32), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const { data } of entries) {
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), at);
    at += data.byteLength;
  }
  return out;
}

/**
 * Parses safetensors bytes, validating everything; any problem throws an Error that starts with `source` (a
 * path or description) and names the problem: too short, header length beyond the file, bad JSON, a tensor
 * with an unknown dtype, a bad shape, a size mismatch, offsets out of range, overlapping or leaving gaps.
 */
export function decodeTensorFile(bytes: Uint8Array, source: string): TensorFile {
  assertLittleEndianHost();
  function fail(problem: string): never {
    throw new Error(`${source}: invalid weight file: ${problem}`);
  }
  if (bytes.length < 8) fail(`too short (${bytes.length} bytes, need at least 8)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getUint32(0, true) + view.getUint32(4, true) * 2 ** 32;
  if (headerLength > bytes.length - 8) {
    fail(`header length ${headerLength} goes beyond the file (${bytes.length} bytes)`);
  }
  let header: unknown;
  try {
    header = JSON.parse(
      new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLength)),
    );
  } catch (err) {
    fail(`header is not valid JSON (${(err as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header))
    fail('header is not a JSON object');
  const dataStart = 8 + headerLength;
  const dataLength = bytes.length - dataStart;

  const metadata: Record<string, string> = {};
  const placed: { entry: Omit<TensorEntry, 'data'>; begin: number; end: number }[] = [];
  for (const [name, info] of Object.entries(header as Record<string, unknown>)) {
    if (name === METADATA_KEY) {
      if (typeof info !== 'object' || info === null || Array.isArray(info))
        fail('__metadata__ is not an object');
      for (const [key, value] of Object.entries(info as Record<string, unknown>)) {
        if (typeof value !== 'string') fail(`metadata '${key}' is not a string`);
        metadata[key] = value as string;
      }
      continue;
    }
    if (typeof info !== 'object' || info === null) fail(`tensor '${name}' has no description`);
    const { dtype, shape, data_offsets: offsets } = info as Record<string, unknown>;
    const ourDtype = typeof dtype === 'string' ? FROM_FILE_DTYPE[dtype] : undefined;
    if (ourDtype === undefined)
      fail(`tensor '${name}' has unsupported dtype ${JSON.stringify(dtype)} (supported: F32, I32, I64)`);
    if (!isShape(shape)) fail(`tensor '${name}' has invalid shape ${JSON.stringify(shape)}`);
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)
    ) {
      fail(`tensor '${name}' has invalid data_offsets ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    if (begin > end || end > dataLength) {
      fail(
        `tensor '${name}' data_offsets [${begin}, ${end}] out of range (data area is ${dataLength} bytes)`,
      );
    }
    const expectedBytes =
      elementCount(shape as number[]) * ARRAY_TYPE[ourDtype as TensorDType].BYTES_PER_ELEMENT;
    if (end - begin !== expectedBytes) {
      fail(
        `tensor '${name}' size mismatch: shape [${(shape as number[]).join(', ')}] needs ${expectedBytes} bytes, offsets give ${end - begin}`,
      );
    }
    placed.push({ entry: { name, shape: shape as number[], dtype: ourDtype as TensorDType }, begin, end });
  }

  placed.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  for (const { entry, begin, end } of placed) {
    if (begin < covered)
      fail(`tensor '${entry.name}' data_offsets [${begin}, ${end}] overlap another tensor`);
    if (begin > covered) fail(`bytes ${covered}..${begin} of the data area belong to no tensor`);
    covered = end;
  }
  if (covered !== dataLength) fail(`bytes ${covered}..${dataLength} of the data area belong to no tensor`);

  const entries = placed.map(({ entry, begin, end }) => {
    // Copy into a fresh, aligned buffer (a Node Buffer may be a view into a shared pool).
    const raw = new Uint8Array(end - begin);
    raw.set(bytes.subarray(dataStart + begin, dataStart + end));
    const data = new ARRAY_TYPE[entry.dtype](raw.buffer);
    return { ...entry, data };
  });
  return { entries, tensors: new Map(entries.map((e) => [e.name, e])), metadata };
}

/** A copy of the model's weights (params, then buffers) as file entries, in tfjs layouts. */
export function modelToEntries(model: Model): TensorEntry[] {
  return [...model.params, ...model.buffers].map(({ name, variable }) => ({
    name,
    shape: [...variable.shape],
    dtype: 'float32' as const,
    data: new Float32Array(variable.dataSync() as Float32Array),
  }));
}

/** The float tensors holding NaN or ±Infinity, with how many such values each has; empty when all are finite. */
export function nonFiniteEntries(entries: readonly TensorEntry[]): Array<{ name: string; count: number }> {
  const found: Array<{ name: string; count: number }> = [];
  for (const { name, dtype, data } of entries) {
    if (dtype !== 'float32') continue;
    let count = 0;
    for (const v of data as Float32Array) if (!Number.isFinite(v)) count++;
    if (count > 0) found.push({ name, count });
  }
  return found;
}

/** Throws an Error starting with `source` that names every tensor with NaN or ±Infinity values. */
export function assertFiniteEntries(entries: readonly TensorEntry[], source: string): void {
  const bad = nonFiniteEntries(entries);
  if (bad.length === 0) return;
  throw new Error(
    `${source}: weights are not finite (NaN or ±Infinity): ${listNames(bad.map((b) => `${b.name} (${b.count})`))}`,
  );
}

function listNames(names: string[]): string {
  const shown = names.slice(0, 12).join(', ');
  return names.length > 12 ? `${shown}, … (${names.length} in all)` : shown;
}

/**
 * Assigns `entries` to the model's params and buffers by name. All names, shapes and dtypes are checked first;
 * if anything is missing, unexpected or mismatched the error lists it and the model is left unchanged.
 */
export function applyEntriesToModel(model: Model, entries: readonly TensorEntry[], source: string): void {
  const byName = new Map(entries.map((e) => [e.name, e]));
  const variables = [...model.params, ...model.buffers];
  const known = new Set(variables.map((v) => v.name));
  const missing = variables.filter((v) => !byName.has(v.name)).map((v) => v.name);
  const unexpected = entries.filter((e) => !known.has(e.name)).map((e) => e.name);
  const mismatched: string[] = [];
  for (const { name, variable } of variables) {
    const entry = byName.get(name);
    if (entry === undefined) continue;
    if (entry.dtype !== 'float32' || !tf.util.arraysEqual(entry.shape, variable.shape)) {
      mismatched.push(
        `${name} (file ${entry.dtype} [${entry.shape.join(', ')}], model float32 [${variable.shape.join(', ')}])`,
      );
    }
  }
  if (missing.length + unexpected.length + mismatched.length > 0) {
    const problems = [
      missing.length ? `missing: ${listNames(missing)}` : '',
      unexpected.length ? `unexpected: ${listNames(unexpected)}` : '',
      mismatched.length ? `mismatched: ${listNames(mismatched)}` : '',
    ].filter((p) => p !== '');
    throw new Error(`${source}: weights do not fit model ${model.arch}; ${problems.join('; ')}`);
  }
  tf.tidy(() => {
    for (const { name, variable } of variables) {
      const entry = byName.get(name) as TensorEntry; // checked above: float32
      variable.assign(tf.tensor(entry.data as Float32Array, entry.shape, 'float32'));
    }
  });
}

/** Reads a whole file; a missing or unreadable file gives an Error naming it. */
export function readWeightFileBytes(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new Error(`${path}: cannot read weight file (${(err as Error).message})`);
  }
}

/** `__metadata__.format` of model weight files in MAT names and tfjs layouts. */
export const MAT_WEIGHTS_FORMAT = 'mat-weights';

/** Metadata every model weight file carries; callers may add their own keys. */
export function modelMetadata(model: Model): Record<string, string> {
  return {
    format: MAT_WEIGHTS_FORMAT,
    arch: model.arch,
    inputShape: JSON.stringify(model.inputShape),
    numClasses: String(model.numClasses),
  };
}

/** Saves params and buffers (tfjs layouts, MAT names) atomically to `path`. */
export function saveModelWeights(model: Model, path: string, metadata: Record<string, string> = {}): void {
  writeFileAtomic(path, encodeTensorFile(modelToEntries(model), { ...modelMetadata(model), ...metadata }));
}

/**
 * Loads weights saved by `saveModelWeights` into `model`. Every name and shape must match (the error lists the
 * missing, unexpected and mismatched names); on any error the model is unchanged. Returns the file's metadata.
 */
export function loadModelWeights(model: Model, path: string): Record<string, string> {
  const { entries, metadata } = decodeTensorFile(readWeightFileBytes(path), path);
  applyEntriesToModel(model, entries, path);
  return metadata;
}
