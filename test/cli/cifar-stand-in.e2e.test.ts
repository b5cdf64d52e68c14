import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { imageSize, loadDataset, subset, type Dataset } from '@mat/core';

const SCRIPT = path.resolve(__dirname, '..', '..', 'scripts', 'make-cifar-stand-in.js');

function standIn(dataDir: string) {
  return spawnSync(process.execPath, [SCRIPT, '--data-dir', dataDir], { encoding: 'utf8' });
}

/** Test accuracy of the nearest class mean of the training images: far above chance when classes are learnable. */
function nearestMeanAccuracy(train: Dataset, test: Dataset): number {
  const size = imageSize(train.shape);
  const sums = Array.from({ length: train.numClasses }, () => new Float64Array(size));
  const counts = new Array<number>(train.numClasses).fill(0);
  for (let i = 0; i < train.count; i++) {
    counts[train.labels[i]]++;
    const sum = sums[train.labels[i]];
    for (let p = 0; p < size; p++) sum[p] += train.images[i * size + p];
  }
  const means = sums.map((sum, c) => sum.map((v) => v / counts[c]));
  let right = 0;
  for (let i = 0; i < test.count; i++) {
    let best = -1;
    let bestDistance = Infinity;
    means.forEach((mean, c) => {
      let d = 0;
      for (let p = 0; p < size; p++) d += (test.images[i * size + p] - mean[p]) ** 2;
      if (d < bestDistance) [best, bestDistance] = [c, d];
    });
    if (best === test.labels[i]) right++;
  }
  return right / test.count;
}

describe('scripts/make-cifar-stand-in.js', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mat-cifar-stand-in-'));
  afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  it('writes an archive the CIFAR-10 loader reads as the real one (names, counts, labels), with learnable classes, and never replaces an archive', async () => {
    const first = standIn(dataDir);
    expect(first.stderr).toBe('');
    expect(first.status).toBe(0);
    const archive = path.join(dataDir, 'cifar10', 'cifar-10-binary.tar.gz');
    const train = await loadDataset('cifar10', 'train', { dataDir, debianDir: null });
    const test = await loadDataset('cifar10', 'test', { dataDir, debianDir: null });
    expect([train.count, test.count, train.numClasses]).toEqual([50000, 10000, 10]);
    expect(train.shape).toEqual([32, 32, 3]);
    expect(new Set(test.labels).size).toBe(10);
    expect(nearestMeanAccuracy(subset(train, 2000), subset(test, 500))).toBeGreaterThan(0.5);

    const before = fs.statSync(archive);
    const again = standIn(dataDir);
    expect(again.status).toBe(1);
    expect(again.stderr).toMatch(/cifar-10-binary\.tar\.gz exists; not replacing it/);
    const after = fs.statSync(archive);
    expect([after.size, after.mtimeMs]).toEqual([before.size, before.mtimeMs]);
    // ~30 CPU seconds quiet (60000 images, a 180 MB gzip); minutes on a loaded machine.
  }, 900_000);

  it('names a missing --data-dir and a dataset that is not CIFAR', () => {
    const none = spawnSync(process.execPath, [SCRIPT], { encoding: 'utf8' });
    expect(none.status).toBe(1);
    expect(none.stderr).toMatch(/--data-dir is required/);
    const idx = spawnSync(process.execPath, [SCRIPT, '--data-dir', dataDir, '--dataset', 'fashion-mnist'], {
      encoding: 'utf8',
    });
    expect(idx.status).toBe(1);
    expect(idx.stderr).toMatch(/fashion-mnist is not a CIFAR dataset/);
  });
});
