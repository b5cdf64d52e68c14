import * as fs from 'fs';
import * as path from 'path';
import { Dataset, ImageShape, Split, checkDataset } from './dataset';
import { maybeGunzip } from './gzip';

/**
 * The IDX format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/):
 *   bytes 0-1  zero
 *   byte  2    element type: 0x08 ubyte, 0x09 sbyte, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64
 *   byte  3    number of dimensions d
 *   then d big-endian uint32 sizes, then the data in row-major order (big-endian elements).
 * Image files are ubyte with d = 3 (N, H, W); label files are ubyte with d = 1 (N).
 */
export interface IdxArray {
  dtype: number;
  dims: number[];
  /** The raw element bytes after the header. */
  data: Uint8Array;
}

const IDX_UBYTE = 0x08;
const IDX_TYPE_NAMES: Record<number, string> = {
  0x08: 'ubyte',
  0x09: 'sbyte',
  0x0b: 'int16',
  0x0c: 'int32',
  0x0d: 'float32',
  0x0e: 'float64',
};
const IDX_TYPE_BYTES: Record<number, number> = { 0x08: 1, 0x09: 1, 0x0b: 2, 0x0c: 4, 0x0d: 4, 0x0e: 8 };

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
}

/** Parses an uncompressed IDX buffer, checking the magic number, type, dimensions and exact length. */
export function parseIdx(bytes: Uint8Array, fileName: string): IdxArray {
  if (bytes.length < 4) throw new Error(`${fileName}: truncated: ${bytes.length} bytes, an IDX header needs 4`);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw new Error(`${fileName}: bad magic number ${hex(bytes.subarray(0, 4))}: an IDX file starts with 00 00`);
  }
  const dtype = bytes[2];
  const elementBytes = IDX_TYPE_BYTES[dtype];
  if (elementBytes === undefined) {
    throw new Error(`${fileName}: unknown IDX element type 0x${dtype.toString(16).padStart(2, '0')}`);
  }
  const ndims = bytes[3];
  if (ndims === 0) throw new Error(`${fileName}: IDX header declares 0 dimensions`);
  const headerBytes = 4 + 4 * ndims;
  if (bytes.length < headerBytes) {
    throw new Error(`${fileName}: truncated: header of ${ndims} dimensions needs ${headerBytes} bytes, file has ${bytes.length}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  for (let d = 0; d < ndims; d++) dims.push(view.getUint32(4 + 4 * d, false));
  const expected = dims.reduce((a, b) => a * b, 1) * elementBytes;
  const actual = bytes.length - headerBytes;
  const shape = dims.join('x');
  if (actual < expected) {
    throw new Error(`${fileName}: truncated: header says ${shape} = ${expected} bytes of data, file has ${actual}`);
  }
  if (actual > expected) {
    throw new Error(
      `${fileName}: ${actual - expected} trailing bytes: header says ${shape} = ${expected} bytes of data, file has ${actual}`,
    );
  }
  return { dtype, dims, data: bytes.subarray(headerBytes) };
}

function requireUbyte(idx: IdxArray, ndims: number, what: string, fileName: string): void {
  if (idx.dtype !== IDX_UBYTE) {
    throw new Error(`${fileName}: ${what} must be ubyte (0x08), file has ${IDX_TYPE_NAMES[idx.dtype]}`);
  }
  if (idx.dims.length !== ndims) {
    throw new Error(`${fileName}: ${what} must have ${ndims} dimension(s), file has ${idx.dims.length} (${idx.dims.join('x')})`);
  }
}

/** Reads an IDX file from disk, gunzipping it when it starts with 1f 8b. */
export async function readIdxFile(filePath: string): Promise<IdxArray> {
  const name = path.basename(filePath);
  const raw = await fs.promises.readFile(filePath);
  return parseIdx(await maybeGunzip(raw, name), name);
}

export interface IdxPairOptions {
  name: string;
  split: Split;
  numClasses: number;
  classNames?: string[];
  /** When given, the number of samples the files must hold (e.g. 60000 for the MNIST train split). */
  expectedCount?: number;
  /** When given, the image height and width the files must have. */
  expectedShape?: ImageShape;
}

/** Combines an images IDX (N, H, W) and a labels IDX (N) into a single-channel Dataset. */
export function idxToDataset(
  images: IdxArray,
  labels: IdxArray,
  opts: IdxPairOptions,
  fileNames: { images: string; labels: string },
): Dataset {
  requireUbyte(images, 3, 'images', fileNames.images);
  requireUbyte(labels, 1, 'labels', fileNames.labels);
  const [count, h, w] = images.dims;
  if (labels.dims[0] !== count) {
    throw new Error(`${fileNames.labels}: ${labels.dims[0]} labels but ${fileNames.images} has ${count} images`);
  }
  if (opts.expectedCount !== undefined && count !== opts.expectedCount) {
    throw new Error(`${fileNames.images}: ${count} images, ${opts.name}/${opts.split} has ${opts.expectedCount}`);
  }
  if (opts.expectedShape && (opts.expectedShape[0] !== h || opts.expectedShape[1] !== w || opts.expectedShape[2] !== 1)) {
    throw new Error(`${fileNames.images}: images are ${h}x${w}x1, ${opts.name} expects ${opts.expectedShape.join('x')}`);
  }
  const labelArray = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const label = labels.data[i];
    if (label >= opts.numClasses) {
      throw new Error(`${fileNames.labels}: label ${label} at index ${i} is outside [0, ${opts.numClasses})`);
    }
    labelArray[i] = label;
  }
  return checkDataset({
    name: opts.name,
    split: opts.split,
    images: images.data,
    labels: labelArray,
    count,
    shape: [h, w, 1],
    numClasses: opts.numClasses,
    classNames: opts.classNames,
  });
}

/** Loads one split from an images file and a labels file (gzip or raw IDX). */
export async function loadIdxDataset(imagesPath: string, labelsPath: string, opts: IdxPairOptions): Promise<Dataset> {
  const [images, labels] = await Promise.all([readIdxFile(imagesPath), readIdxFile(labelsPath)]);
  return idxToDataset(images, labels, opts, { images: path.basename(imagesPath), labels: path.basename(labelsPath) });
}

/** Writes an IDX buffer (header + data); used to make test fixtures and by anyone exporting data. */
export function encodeIdx(dtype: number, dims: number[], data: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const view = new DataView(out.buffer);
  out[2] = dtype;
  out[3] = dims.length;
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(data, 4 + 4 * dims.length);
  return out;
}
