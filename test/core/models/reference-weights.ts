/**
 * TypeScript twin of the weight/input generator in scripts/reference/make_model_fixture.py. Both sides build the
 * same PyTorch-layout tensors from a seed, so the fixture needs no stored weights.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { TensorEntry } from '@mat/core';

export interface NumericsCase {
  arch: string;
  options: { depth?: number; widen?: number };
  weightSeed: number;
  inputSeed: number;
  batch: number;
  inputShape: [number, number, number];
  normalize: { mean: number[]; std: number[] } | null;
  evalLogits: number[];
  trainLogits?: number[];
  runningStatsAfterTrain?: Record<string, number[]>;
}

export interface TorchFixture {
  paramCounts: Record<string, number>;
  stateDicts: Record<string, [string, number[]][]>;
  numerics: NumericsCase[];
}

export function loadTorchFixture(): TorchFixture {
  const file = path.join(__dirname, '..', '..', 'fixtures', 'models', 'torch-reference.json');
  return JSON.parse(fs.readFileSync(file, 'utf8')) as TorchFixture;
}

// Local alias: a global `Math` lookup per call is very slow inside jest's vm sandbox.
const imul = Math.imul;

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** u[i] in [0, 1): fmix32(i·0x9E3779B1 + stream·0x85EBCA77 + seed·0xC2B2AE3D mod 2^32) / 2^32. */
export function hashUniform(seed: number, stream: number, count: number): Float64Array {
  const base = (imul(stream, 0x85ebca77) + imul(seed, 0xc2b2ae3d)) >>> 0;
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) out[i] = fmix32((imul(i, 0x9e3779b1) + base) >>> 0) / 4294967296;
  return out;
}

function referenceValue(name: string, shape: number[], u: number): number {
  if (name.endsWith('running_mean')) return 0.2 * (2 * u - 1);
  if (name.endsWith('running_var')) return 0.5 + u;
  if (name.endsWith('weight') && shape.length === 1) return 0.8 + 0.4 * u;
  if (name.endsWith('bias')) return 0.1 * (2 * u - 1);
  const fanIn = shape.slice(1).reduce((a, b) => a * b, 1);
  return Math.sqrt(6 / fanIn) * (2 * u - 1);
}

/** The reference state_dict (PyTorch names, shapes and layouts; order = stream index) filled from `seed`. */
export function referenceTorchEntries(stateDict: [string, number[]][], seed: number): TensorEntry[] {
  return stateDict.map(([name, shape], stream) => {
    const count = shape.reduce((a, b) => a * b, 1);
    const u = hashUniform(seed, stream, count);
    const data = new Float32Array(count);
    for (let i = 0; i < count; i++) data[i] = referenceValue(name, shape, u[i]);
    return { name, shape, dtype: 'float32' as const, data };
  });
}

/** NHWC input in [0, 1) (stream 0 of `seed`), as the Python side generates it before transposing to NCHW. */
export function referenceInput(seed: number, batch: number, shape: [number, number, number]): Float32Array {
  return Float32Array.from(hashUniform(seed, 0, batch * shape[0] * shape[1] * shape[2]));
}
