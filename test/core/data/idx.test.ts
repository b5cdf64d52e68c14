import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import { encodeIdx, idxToDataset, loadDataset, loadIdxDataset, parseIdx } from '@mat/core';
import { gzip, makeTempDir } from './helpers';

const DEBIAN_DIR = '/usr/share/datasets/fashion-mnist';

function imagesIdx(count: number, h = 4, w = 3): Uint8Array {
  const data = Uint8Array.from({ length: count * h * w }, (_, i) => (i * 7) % 256);
  return encodeIdx(0x08, [count, h, w], data);
}

function labelsIdx(labels: number[]): Uint8Array {
  return encodeIdx(0x08, [labels.length], Uint8Array.from(labels));
}

const opts = { name: 'tiny', split: 'train' as const, numClasses: 3 };
const names = { images: 'img.idx', labels: 'lab.idx' };

describe('IDX parsing', () => {
  it('reads the header and data of a hand-written file', () => {
    // 00 00 08 03 | 00 00 00 02 | 00 00 00 01 | 00 00 00 02 | 4 data bytes
    const bytes = Uint8Array.from([0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2, 9, 8, 7, 6]);
    const idx = parseIdx(bytes, 'hand.idx');
    expect(idx.dtype).toBe(8);
    expect(idx.dims).toEqual([2, 1, 2]);
    expect(Array.from(idx.data)).toEqual([9, 8, 7, 6]);
  });

  it('builds a dataset from images and labels (gzip and raw)', async () => {
    const dir = makeTempDir();
    fs.writeFileSync(path.join(dir, 'img.gz'), gzip(imagesIdx(5)));
    fs.writeFileSync(path.join(dir, 'lab.raw'), labelsIdx([0, 1, 2, 1, 0]));
    const ds = await loadIdxDataset(path.join(dir, 'img.gz'), path.join(dir, 'lab.raw'), opts);
    expect(ds.count).toBe(5);
    expect(ds.shape).toEqual([4, 3, 1]);
    expect(Array.from(ds.labels)).toEqual([0, 1, 2, 1, 0]);
    expect(ds.images[13]).toBe((13 * 7) % 256);
  });

  const cases: [string, () => unknown, RegExp][] = [
    ['wrong magic', () => parseIdx(Uint8Array.from([1, 2, 8, 1, 0, 0, 0, 0]), 'x.idx'), /x\.idx: bad magic number 01 02 08 01/],
    ['unknown type', () => parseIdx(Uint8Array.from([0, 0, 7, 1, 0, 0, 0, 0]), 'x.idx'), /x\.idx: unknown IDX element type 0x07/],
    ['short header', () => parseIdx(Uint8Array.from([0, 0, 8, 3, 0, 0]), 'x.idx'), /x\.idx: truncated: header of 3 dimensions needs 16 bytes, file has 6/],
    [
      'truncated data',
      () => parseIdx(imagesIdx(5).subarray(0, 30), 'train-images-idx3-ubyte.gz'),
      /train-images-idx3-ubyte\.gz: truncated: header says 5x4x3 = 60 bytes of data, file has 14/,
    ],
    [
      'trailing bytes',
      () => parseIdx(Uint8Array.from([...imagesIdx(5), 1, 2]), 'x.idx'),
      /x\.idx: 2 trailing bytes: header says 5x4x3 = 60 bytes of data, file has 62/,
    ],
    [
      'label count differs',
      () => idxToDataset(parseIdx(imagesIdx(5), 'img.idx'), parseIdx(labelsIdx([0, 1, 2]), 'lab.idx'), opts, names),
      /lab\.idx: 3 labels but img\.idx has 5 images/,
    ],
    [
      'label out of range',
      () => idxToDataset(parseIdx(imagesIdx(3), 'img.idx'), parseIdx(labelsIdx([0, 3, 1]), 'lab.idx'), opts, names),
      /lab\.idx: label 3 at index 1 is outside \[0, 3\)/,
    ],
    [
      'labels not ubyte',
      () =>
        idxToDataset(parseIdx(imagesIdx(1), 'img.idx'), parseIdx(encodeIdx(0x0c, [1], new Uint8Array(4)), 'lab.idx'), opts, names),
      /lab\.idx: labels must be ubyte \(0x08\), file has int32/,
    ],
    [
      'images with 2 dimensions',
      () => idxToDataset(parseIdx(encodeIdx(8, [2, 3], new Uint8Array(6)), 'img.idx'), parseIdx(labelsIdx([0, 1]), 'lab.idx'), opts, names),
      /img\.idx: images must have 3 dimension\(s\), file has 2 \(2x3\)/,
    ],
    [
      'wrong count for the split',
      () => idxToDataset(parseIdx(imagesIdx(2), 'img.idx'), parseIdx(labelsIdx([0, 1]), 'lab.idx'), { ...opts, expectedCount: 60000 }, names),
      /img\.idx: 2 images, tiny\/train has 60000/,
    ],
  ];
  it.each(cases)('rejects %s with a message naming the file', (_name, run, message) => {
    expect(run).toThrow(message);
  });

  it('rejects a truncated gzip stream', async () => {
    const dir = makeTempDir();
    const gz = gzip(imagesIdx(50));
    fs.writeFileSync(path.join(dir, 'img.gz'), gz.subarray(0, gz.length - 20));
    fs.writeFileSync(path.join(dir, 'lab'), labelsIdx([0]));
    await expect(loadIdxDataset(path.join(dir, 'img.gz'), path.join(dir, 'lab'), opts)).rejects.toThrow(
      /img\.gz: corrupt gzip data: unexpected end of file/,
    );
  });
});

describe('real Fashion-MNIST from the Debian package', () => {
  const dataDir = makeTempDir(); // empty: loadDataset falls back to the Debian files

  it('loads 60000 train samples, 6000 per class, matching the raw IDX bytes', async () => {
    const ds = await loadDataset('fashion-mnist', 'train', { dataDir });
    expect(ds.count).toBe(60000);
    expect(ds.shape).toEqual([28, 28, 1]);
    expect(ds.images.length).toBe(60000 * 784);
    const histogram = new Array(10).fill(0);
    for (const label of ds.labels) histogram[label]++;
    expect(histogram).toEqual(new Array(10).fill(6000));
    // Independent decode of a few samples: skip the 16-byte header of the gunzipped file.
    const raw = zlib.gunzipSync(fs.readFileSync(path.join(DEBIAN_DIR, 'train-images-idx3-ubyte.gz')));
    for (const i of [0, 12345, 59999]) {
      expect(Buffer.from(ds.images.subarray(i * 784, (i + 1) * 784)).equals(raw.subarray(16 + i * 784, 16 + (i + 1) * 784))).toBe(true);
    }
    const rawLabels = zlib.gunzipSync(fs.readFileSync(path.join(DEBIAN_DIR, 'train-labels-idx1-ubyte.gz')));
    expect(ds.labels[0]).toBe(rawLabels[8]);
    expect(ds.classNames?.[9]).toBe('Ankle boot');
  });

  it('loads 10000 test samples, 1000 per class', async () => {
    const ds = await loadDataset('fashion-mnist', 'test', { dataDir });
    expect(ds.count).toBe(10000);
    const histogram = new Array(10).fill(0);
    for (const label of ds.labels) histogram[label]++;
    expect(histogram).toEqual(new Array(10).fill(1000));
  });
});
