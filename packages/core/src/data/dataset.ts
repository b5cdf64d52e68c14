import { Rng } from '../rng';

export type Split = 'train' | 'test';

/** Image height, width, channels. */
export type ImageShape = [h: number, w: number, c: number];

/**
 * A labelled image set held in memory as plain typed arrays (no tensors: batching and augmentation
 * happen in JS so they are identical on every backend).
 */
export interface Dataset {
  /** Registry name, e.g. `fashion-mnist`. */
  name: string;
  split: Split;
  /** `count * h * w * c` bytes, NHWC, pixel values 0..255. */
  images: Uint8Array;
  /** `count` class indices in [0, numClasses). */
  labels: Int32Array;
  count: number;
  shape: ImageShape;
  numClasses: number;
  classNames?: string[];
}

export function imageSize(shape: ImageShape): number {
  return shape[0] * shape[1] * shape[2];
}

/** Throws if the arrays disagree with `count`, `shape` or `numClasses`; returns the dataset for chaining. */
export function checkDataset(ds: Dataset): Dataset {
  const where = `dataset ${ds.name}/${ds.split}`;
  if (!Number.isInteger(ds.count) || ds.count < 0) throw new Error(`${where}: invalid count ${ds.count}`);
  if (ds.images.length !== ds.count * imageSize(ds.shape)) {
    throw new Error(
      `${where}: images has ${ds.images.length} bytes, expected ${ds.count}x${ds.shape.join('x')} = ` +
        `${ds.count * imageSize(ds.shape)}`,
    );
  }
  if (ds.labels.length !== ds.count) {
    throw new Error(`${where}: ${ds.labels.length} labels for ${ds.count} images`);
  }
  for (let i = 0; i < ds.count; i++) {
    const label = ds.labels[i];
    if (label < 0 || label >= ds.numClasses) {
      throw new Error(`${where}: label ${label} at index ${i} is outside [0, ${ds.numClasses})`);
    }
  }
  if (ds.classNames && ds.classNames.length !== ds.numClasses) {
    throw new Error(`${where}: ${ds.classNames.length} class names for ${ds.numClasses} classes`);
  }
  return ds;
}

/** The samples at `indices`, in that order (copies the bytes). */
export function selectSamples(ds: Dataset, indices: ArrayLike<number>): Dataset {
  const size = imageSize(ds.shape);
  const images = new Uint8Array(indices.length * size);
  const labels = new Int32Array(indices.length);
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k];
    if (!Number.isInteger(i) || i < 0 || i >= ds.count) {
      throw new Error(`selectSamples: index ${i} is outside [0, ${ds.count}) of ${ds.name}/${ds.split}`);
    }
    images.set(ds.images.subarray(i * size, (i + 1) * size), k * size);
    labels[k] = ds.labels[i];
  }
  return { ...ds, images, labels, count: indices.length };
}

function checkCount(ds: Dataset, count: number, fn: string): void {
  if (!Number.isInteger(count) || count < 0 || count > ds.count) {
    throw new Error(`${fn}: count must be an integer in [0, ${ds.count}] for ${ds.name}/${ds.split}, got ${count}`);
  }
}

/**
 * The first `count` samples. Deterministic with no seed to agree on; the standard files are already
 * shuffled, so a prefix is close to class-balanced (see `stratifiedSubset` when it must be exact).
 */
export function subset(ds: Dataset, count: number): Dataset {
  checkCount(ds, count, 'subset');
  const size = imageSize(ds.shape);
  return {
    ...ds,
    images: ds.images.slice(0, count * size),
    labels: ds.labels.slice(0, count),
    count,
  };
}

/**
 * A seeded, class-balanced subset of `count` samples: each class gets floor(count / numClasses) samples
 * (drawn at random without replacement), the remainder goes to classes picked at random, and the result
 * keeps the original sample order. Classes with too few samples give what they have; the shortfall is
 * filled from the other classes.
 */
export function stratifiedSubset(ds: Dataset, count: number, seed: number): Dataset {
  checkCount(ds, count, 'stratifiedSubset');
  const rng = new Rng(seed);
  const byClass: number[][] = Array.from({ length: ds.numClasses }, () => []);
  for (let i = 0; i < ds.count; i++) byClass[ds.labels[i]].push(i);
  for (const members of byClass) rng.shuffle(members);

  const quota = new Array<number>(ds.numClasses).fill(Math.floor(count / ds.numClasses));
  const extra = rng.permutation(ds.numClasses);
  for (let k = 0; k < count % ds.numClasses; k++) quota[extra[k]]++;

  const chosen: number[] = [];
  const taken = new Array<number>(ds.numClasses).fill(0);
  for (let c = 0; c < ds.numClasses; c++) {
    taken[c] = Math.min(quota[c], byClass[c].length);
    chosen.push(...byClass[c].slice(0, taken[c]));
  }
  // Fill any shortfall (classes smaller than their quota) round-robin from the classes with samples left.
  for (let c = 0; chosen.length < count; c = (c + 1) % ds.numClasses) {
    if (taken[c] < byClass[c].length) chosen.push(byClass[c][taken[c]++]);
  }
  chosen.sort((a, b) => a - b);
  return selectSamples(ds, chosen);
}
