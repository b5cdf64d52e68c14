import { DATASETS, Dataset, checkDataset, getDatasetSpec, remoteFiles, stratifiedSubset, subset } from '@mat/core';

function labelled(labels: number[], numClasses: number): Dataset {
  return {
    name: 'toy',
    split: 'train',
    images: Uint8Array.from({ length: labels.length * 2 }, (_, i) => i),
    labels: Int32Array.from(labels),
    count: labels.length,
    shape: [1, 2, 1],
    numClasses,
  };
}

describe('subsets', () => {
  const ds = labelled([0, 0, 0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 2, 2, 1, 0], 3);

  it('subset takes the first samples', () => {
    const s = subset(ds, 3);
    expect(s.count).toBe(3);
    expect(Array.from(s.images)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(() => subset(ds, 17)).toThrow(/count must be an integer in \[0, 16\]/);
  });

  it('stratifiedSubset balances classes, keeps sample order, and depends only on the seed', () => {
    const s = stratifiedSubset(ds, 7, 11);
    const histogram = [0, 0, 0];
    for (const label of s.labels) histogram[label]++;
    expect(histogram.sort()).toEqual([2, 2, 3]);
    // images still belong to their labels: sample i has pixels 2i, 2i+1 and label ds.labels[i]
    for (let k = 0; k < s.count; k++) {
      const i = s.images[2 * k] / 2;
      expect(s.labels[k]).toBe(ds.labels[i]);
      if (k > 0) expect(i).toBeGreaterThan(s.images[2 * (k - 1)] / 2);
    }
    expect(Array.from(stratifiedSubset(ds, 7, 11).images)).toEqual(Array.from(s.images));
    const bySeed = new Set([1, 2, 3, 4, 5].map((seed) => Array.from(stratifiedSubset(ds, 7, seed).images).join()));
    expect(bySeed.size).toBeGreaterThan(1);
  });

  it('stratifiedSubset fills the quota of a small class from the others', () => {
    const s = stratifiedSubset(labelled([0, 0, 0, 0, 0, 1], 2), 4, 0);
    expect(Array.from(s.labels).filter((l) => l === 1)).toHaveLength(1);
    expect(s.count).toBe(4);
  });

  it('checkDataset rejects inconsistent arrays', () => {
    expect(() => checkDataset({ ...ds, count: 15 })).toThrow(/images has 32 bytes, expected 15x1x2x1 = 30/);
    expect(() => checkDataset(labelled([0, 3], 3))).toThrow(/label 3 at index 1 is outside \[0, 3\)/);
  });
});

describe('dataset registry', () => {
  it.each(Object.keys(DATASETS))('%s has checksums, URLs and consistent class names', (name) => {
    const spec = getDatasetSpec(name);
    expect(spec.name).toBe(name);
    expect(spec.classNames).toHaveLength(spec.numClasses);
    expect(new Set(spec.classNames).size).toBe(spec.numClasses);
    for (const file of remoteFiles(spec)) expect(file.md5).toMatch(/^[0-9a-f]{32}$/);
    for (const url of spec.urls) expect(url).toMatch(/^https?:\/\/.+\/$/);
    if (spec.format === 'cifar') expect(spec.layout.labelRanges[spec.layout.labelIndex]).toBe(spec.numClasses);
  });

  it('lists CIFAR-100 fine labels in alphabetical order, as the dataset numbers them', () => {
    const names = getDatasetSpec('cifar100').classNames;
    expect([...names].sort()).toEqual(names);
  });

  it('names the known datasets when asked for an unknown one', () => {
    expect(() => getDatasetSpec('imagenet')).toThrow(/unknown dataset "imagenet"; known datasets: fashion-mnist, mnist, cifar10, cifar100/);
  });
});
