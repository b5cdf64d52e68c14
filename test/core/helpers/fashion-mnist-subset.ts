import * as fs from 'fs';
import * as zlib from 'zlib';

/** Debian's Fashion-MNIST (IDX, gzip): the test command installs it (scripts/setup-system.sh). */
export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

/**
 * The first `count` images (scaled to [0, 1], NHWC flattened) and labels of a split, read with a
 * minimal IDX parser (magic 2051 for images, 2049 for labels; big-endian sizes).
 */
export function loadFashionMnist(
  split: 'train' | 't10k',
  count: number,
): { images: Float32Array; labels: Int32Array } {
  const images = zlib.gunzipSync(fs.readFileSync(`${FASHION_MNIST_DIR}/${split}-images-idx3-ubyte.gz`));
  const labels = zlib.gunzipSync(fs.readFileSync(`${FASHION_MNIST_DIR}/${split}-labels-idx1-ubyte.gz`));
  if (images.readUInt32BE(0) !== 2051 || labels.readUInt32BE(0) !== 2049)
    throw new Error('not IDX image/label files');
  const available = images.readUInt32BE(4);
  if (count > available || labels.readUInt32BE(4) !== available)
    throw new Error(`asked for ${count} of ${available}`);
  const pixels = images.readUInt32BE(8) * images.readUInt32BE(12);
  const out = new Float32Array(count * pixels);
  for (let i = 0; i < out.length; i++) out[i] = images[16 + i] / 255;
  return { images: out, labels: Int32Array.from(labels.subarray(8, 8 + count)) };
}
