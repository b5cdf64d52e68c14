import { Rng } from '../rng';
import { Dataset, imageSize } from './dataset';

/** Seed-derivation tags, so the order and augmentation streams never coincide with other uses of the seed. */
export const PURPOSE_ORDER = 0x6f726472; // 'ordr'
export const PURPOSE_AUGMENT = 0x61756720; // 'aug '

export interface AugmentOptions {
  /**
   * Random-crop after zero padding by this many pixels on every side (4 for CIFAR): the image is shifted
   * by (dy, dx), each uniform in [-crop, crop], with zeros filling the uncovered border. @defaultValue 0
   */
  crop?: number;
  /** Mirror left-right with probability 1/2. @defaultValue false */
  flip?: boolean;
}

export interface BatcherOptions {
  batchSize: number;
  /** Data seed; every peer of a run uses the same one so they all see the same clean batch. */
  seed: number;
  /** A fresh permutation per epoch; `false` keeps the dataset order. */
  shuffle: boolean;
  augment?: AugmentOptions;
  /** Skip the last, smaller batch of an epoch. @defaultValue false */
  dropLast?: boolean;
}

export interface Batch {
  /** `size * h * w * c` floats, NHWC, pixel / 255 in [0, 1]. */
  x: Float32Array;
  y: Int32Array;
  size: number;
  /** Dataset index of each sample in the batch. */
  indices: Int32Array;
}

/** byte -> byte / 255 as float32, computed once (exactly what dividing each pixel would give). */
const BYTE_TO_UNIT = Float32Array.from({ length: 256 }, (_, i) => i / 255);

/**
 * Deterministic mini-batches: `batch(epoch, index)` is a pure function of (seed, epoch, index).
 *   order of epoch e           = Rng.derive(seed, e, PURPOSE_ORDER).permutation(N)
 *   augmentation of batch (e,i) = Rng.derive(seed, e, i, PURPOSE_AUGMENT), drawn per sample in batch order:
 *                                 dy, dx (when crop > 0), then flip (when flip is on)
 * So a run resumed at any step sees exactly the batches it would have seen, and separate processes build
 * the same batch without talking to each other.
 */
export class Batcher {
  readonly batchesPerEpoch: number;
  private readonly crop: number;
  private readonly flip: boolean;
  private cachedEpoch = -1;
  private cachedOrder: Int32Array = new Int32Array(0);

  constructor(
    readonly ds: Dataset,
    readonly opts: BatcherOptions,
  ) {
    const { batchSize, seed } = opts;
    if (!Number.isInteger(batchSize) || batchSize <= 0) {
      throw new Error(`Batcher: batchSize must be a positive integer, got ${batchSize}`);
    }
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
      throw new Error(`Batcher: seed must be an integer in [0, 2^32), got ${seed}`);
    }
    this.crop = opts.augment?.crop ?? 0;
    this.flip = opts.augment?.flip ?? false;
    if (!Number.isInteger(this.crop) || this.crop < 0) {
      throw new Error(`Batcher: augment.crop must be a non-negative integer, got ${this.crop}`);
    }
    this.batchesPerEpoch = opts.dropLast ? Math.floor(ds.count / batchSize) : Math.ceil(ds.count / batchSize);
    if (this.batchesPerEpoch === 0) {
      throw new Error(`Batcher: ${ds.name}/${ds.split} has ${ds.count} samples, not enough for one batch of ${batchSize}`);
    }
  }

  /** The sample order of an epoch (cached for the most recent epoch). */
  epochOrder(epoch: number): Int32Array {
    if (!Number.isInteger(epoch) || epoch < 0) throw new Error(`Batcher: epoch must be a non-negative integer, got ${epoch}`);
    if (epoch !== this.cachedEpoch) {
      this.cachedOrder = this.opts.shuffle
        ? Rng.derive(this.opts.seed, epoch, PURPOSE_ORDER).permutation(this.ds.count)
        : Int32Array.from({ length: this.ds.count }, (_, i) => i);
      this.cachedEpoch = epoch;
    }
    return this.cachedOrder;
  }

  batch(epoch: number, index: number): Batch {
    if (!Number.isInteger(index) || index < 0 || index >= this.batchesPerEpoch) {
      throw new Error(`Batcher: batch index ${index} is outside [0, ${this.batchesPerEpoch})`);
    }
    const order = this.epochOrder(epoch);
    const { batchSize } = this.opts;
    const start = index * batchSize;
    const size = Math.min(batchSize, this.ds.count - start);
    const indices = order.slice(start, start + size);
    const [h, w, c] = this.ds.shape;
    const pixels = imageSize(this.ds.shape);
    const x = new Float32Array(size * pixels);
    const y = new Int32Array(size);
    const augmenting = this.crop > 0 || this.flip;
    const rng = augmenting ? Rng.derive(this.opts.seed, epoch, index, PURPOSE_AUGMENT) : undefined;

    for (let k = 0; k < size; k++) {
      const sample = indices[k];
      y[k] = this.ds.labels[sample];
      const src = sample * pixels;
      const dst = k * pixels;
      if (!rng) {
        for (let p = 0; p < pixels; p++) x[dst + p] = BYTE_TO_UNIT[this.ds.images[src + p]];
        continue;
      }
      const dy = this.crop > 0 ? rng.int(2 * this.crop + 1) - this.crop : 0;
      const dx = this.crop > 0 ? rng.int(2 * this.crop + 1) - this.crop : 0;
      const mirrored = this.flip && rng.uniform() < 0.5;
      // out[r][q] = in[r + dy][(mirrored ? w-1-q : q) + dx], zero where that falls outside the image.
      for (let r = 0; r < h; r++) {
        const sr = r + dy;
        if (sr < 0 || sr >= h) continue;
        for (let q = 0; q < w; q++) {
          const sq = (mirrored ? w - 1 - q : q) + dx;
          if (sq < 0 || sq >= w) continue;
          const from = src + (sr * w + sq) * c;
          const to = dst + (r * w + q) * c;
          for (let ch = 0; ch < c; ch++) x[to + ch] = BYTE_TO_UNIT[this.ds.images[from + ch]];
        }
      }
    }
    return { x, y, size, indices };
  }
}
