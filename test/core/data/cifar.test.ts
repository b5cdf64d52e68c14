import * as fs from 'fs';
import * as path from 'path';
import {
  CifarLayout,
  cifarSplitFromMembers,
  decodeCifarRecords,
  getDatasetSpec,
  loadCifarArchive,
  maybeGunzip,
  readTar,
} from '@mat/core';
import { cifarPixel, cifarRecords, encodeTar, gzip, makeTempDir } from './helpers';

const FIXTURES = path.join(__dirname, '../../fixtures/data');

const cifar10 = getDatasetSpec('cifar10');
const cifar100 = getDatasetSpec('cifar100');
if (cifar10.format !== 'cifar' || cifar100.format !== 'cifar') throw new Error('registry: CIFAR specs changed format');
const layout10: CifarLayout = cifar10.layout;
const layout100: CifarLayout = cifar100.layout;

function expectHwc(images: Uint8Array, sample: number, record: number, salt: number): void {
  // HWC: pixel p = y*32 + x, channel c at images[sample*3072 + 3p + c].
  for (const p of [0, 1, 33, 500, 1023]) {
    for (let c = 0; c < 3; c++) expect(images[sample * 3072 + 3 * p + c]).toBe(cifarPixel(p, c, record, salt));
  }
}

describe('CIFAR records', () => {
  it('converts CHW planes to HWC and reads the CIFAR-10 label', () => {
    const bytes = cifarRecords([[3], [9]], 11);
    const { images, labels, count } = decodeCifarRecords(bytes, layout10, 'b.bin');
    expect(count).toBe(2);
    expect(Array.from(labels)).toEqual([3, 9]);
    expectHwc(images, 0, 0, 11);
    expectHwc(images, 1, 1, 11);
  });

  it('uses the fine label of CIFAR-100 (second label byte)', () => {
    const { labels } = decodeCifarRecords(cifarRecords([[19, 99], [0, 42]], 0), layout100, 'train.bin');
    expect(Array.from(labels)).toEqual([99, 42]);
  });

  it.each([
    ['a partial record', cifarRecords([[1], [2]], 0).subarray(0, 5000), layout10, /b\.bin: 5000 bytes is not a whole number of 3073-byte records \(1 records and 1927 bytes left over\)/],
    ['a CIFAR-10 label of 10', cifarRecords([[1], [10]], 0), layout10, /b\.bin: label 10 in record 1 is outside \[0, 10\)/],
    ['a coarse label of 20', cifarRecords([[20, 5]], 0), layout100, /b\.bin: label byte 0 20 in record 0 is outside \[0, 20\)/],
    ['a fine label of 100', cifarRecords([[2, 100]], 0), layout100, /b\.bin: label byte 1 100 in record 0 is outside \[0, 100\)/],
  ])('rejects %s', (_name, bytes, layout, message) => {
    expect(() => decodeCifarRecords(bytes as Uint8Array, layout as CifarLayout, 'b.bin')).toThrow(message as RegExp);
  });
});

function cifar10Archive(recordsPerFile: number, drop?: string): Uint8Array {
  const members = [...layout10.members.train, ...layout10.members.test];
  const entries = members
    .filter((m) => m !== drop)
    .map((m, f) => ({
      name: `${layout10.root}/${m}`,
      data: cifarRecords(Array.from({ length: recordsPerFile }, (_, r) => [(f + r) % 10]), f * 50),
    }));
  return gzip(encodeTar([{ name: `${layout10.root}/batches.meta.txt`, data: Buffer.from('airplane\n') }, ...entries]));
}

describe('CIFAR archives', () => {
  it('reads train (5 batch files) and test splits from a tar.gz', async () => {
    const dir = makeTempDir();
    const archive = path.join(dir, 'cifar-10-binary.tar.gz');
    fs.writeFileSync(archive, cifar10Archive(3));
    const train = await loadCifarArchive(archive, { ...layout10, counts: { train: 15, test: 3 } }, 'train', { name: 'cifar10' });
    expect(train.count).toBe(15);
    expect(train.shape).toEqual([32, 32, 3]);
    expect(train.numClasses).toBe(10);
    expect(Array.from(train.labels.subarray(3, 6))).toEqual([1, 2, 3]); // data_batch_2 comes second
    expectHwc(train.images, 4, 1, 50);
    const test = await loadCifarArchive(archive, layout10, 'test', { name: 'cifar10' });
    expect(test.count).toBe(3);
    expect(Array.from(test.labels)).toEqual([5, 6, 7]);
  });

  it('names a missing member and lists what the archive has', async () => {
    const dir = makeTempDir();
    const archive = path.join(dir, 'cifar-10-binary.tar.gz');
    fs.writeFileSync(archive, cifar10Archive(2, 'data_batch_3.bin'));
    await expect(loadCifarArchive(archive, layout10, 'train', { name: 'cifar10' })).rejects.toThrow(
      /cifar-10-binary\.tar\.gz: missing member cifar-10-batches-bin\/data_batch_3\.bin \(archive has: .*data_batch_2\.bin/,
    );
  });

  it('checks the record count of a split', () => {
    const files = new Map([[`cifar-100-binary/test.bin`, cifarRecords([[1, 1]], 0)]]);
    expect(() =>
      cifarSplitFromMembers(files, { ...layout100, counts: { train: 50000, test: 10000 } }, 'test', { name: 'cifar100' }, 'c.tar.gz'),
    ).toThrow(/c\.tar\.gz: test split has 1 records, cifar100 has 10000/);
  });

  it('rejects a truncated tar member and a corrupt header', () => {
    const tar = encodeTar([{ name: 'a/x.bin', data: new Uint8Array(3000) }]);
    expect(() => readTar(tar.subarray(0, 2048), 'c.tar')).toThrow(/c\.tar: truncated: member a\/x\.bin declares 3000 bytes, archive has 1536 after its header/);
    const bad = Uint8Array.from(tar);
    bad[10] ^= 0xff;
    expect(() => readTar(bad, 'c.tar')).toThrow(/c\.tar: bad tar header checksum at offset 0 \(not a tar archive\?\)/);
  });

  it('rejects a corrupt gzip archive', async () => {
    const dir = makeTempDir();
    const archive = path.join(dir, 'c.tar.gz');
    const gz = cifar10Archive(1);
    fs.writeFileSync(archive, gz.subarray(0, gz.length >> 1));
    await expect(loadCifarArchive(archive, layout10, 'test', { name: 'cifar10' })).rejects.toThrow(/c\.tar\.gz: corrupt gzip data/);
  });
});

describe('tar archives written by GNU tar (test/fixtures/data, scripts/reference/make-data-tar-fixtures.sh)', () => {
  it('reads the CIFAR-10 layout from a GNU-format archive', async () => {
    const archive = path.join(FIXTURES, 'cifar10-gnu.tar.gz');
    const train = await loadCifarArchive(archive, layout10, 'train', { name: 'cifar10' });
    expect(train.count).toBe(10);
    // Record r of file f: label (3f + r) mod 10, pixel (p + 7c + 31r + 50f) mod 256.
    expect(Array.from(train.labels)).toEqual([0, 1, 3, 4, 6, 7, 9, 0, 2, 3]);
    expectHwc(train.images, 7, 1, 150);
    const test = await loadCifarArchive(archive, layout10, 'test', { name: 'cifar10' });
    expect(Array.from(test.labels)).toEqual([5, 6]);
    expectHwc(test.images, 1, 1, 250);
  });

  it('follows GNU long-name and pax path headers', async () => {
    const longName = `cifar-10-batches-bin/${'n'.repeat(120)}.txt`;
    for (const file of ['cifar10-gnu.tar.gz', 'pax-longname.tar.gz']) {
      const tar = await maybeGunzip(fs.readFileSync(path.join(FIXTURES, file)), file);
      const files = readTar(tar, file);
      expect(Buffer.from(files.get(longName) ?? []).toString()).toBe('long name\n');
    }
  });
});
