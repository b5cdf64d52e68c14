import * as fs from 'fs';
import * as path from 'path';
import {
  CifarDatasetSpec,
  IdxDatasetSpec,
  encodeIdx,
  fetchDataset,
  getDatasetSpec,
  loadDataset,
  remoteFiles,
} from '@mat/core';
import { TestServer, cifarRecords, deadUrl, encodeTar, gzip, makeTempDir, md5, startServer } from './helpers';

/** A 2-class IDX dataset in the real MNIST file layout: 6 train and 4 test images of 5x4. */
function tinyIdxFiles(): Map<string, Uint8Array> {
  const make = (count: number, salt: number) => ({
    images: gzip(encodeIdx(8, [count, 5, 4], Uint8Array.from({ length: count * 20 }, (_, i) => (i * 13 + salt) % 256))),
    labels: gzip(encodeIdx(8, [count], Uint8Array.from({ length: count }, (_, i) => i % 2))),
  });
  const train = make(6, 1);
  const test = make(4, 2);
  return new Map([
    ['train-images-idx3-ubyte.gz', train.images],
    ['train-labels-idx1-ubyte.gz', train.labels],
    ['t10k-images-idx3-ubyte.gz', test.images],
    ['t10k-labels-idx1-ubyte.gz', test.labels],
  ]);
}

function tinyIdxSpec(files: Map<string, Uint8Array>, baseUrl: string): IdxDatasetSpec {
  const remote = (file: string) => ({ file, md5: md5(files.get(file) as Uint8Array) });
  return {
    name: 'tiny',
    description: 'test dataset',
    format: 'idx',
    urls: [baseUrl],
    shape: [5, 4, 1],
    numClasses: 2,
    classNames: ['even', 'odd'],
    counts: { train: 6, test: 4 },
    files: {
      train: { images: remote('train-images-idx3-ubyte.gz'), labels: remote('train-labels-idx1-ubyte.gz') },
      test: { images: remote('t10k-images-idx3-ubyte.gz'), labels: remote('t10k-labels-idx1-ubyte.gz') },
    },
  };
}

function served(files: Map<string, Uint8Array>, prefix = '/files/'): Map<string, Uint8Array> {
  return new Map([...files].map(([name, data]) => [prefix + name, data]));
}

const IMAGES = 'train-images-idx3-ubyte.gz';

describe('fetchDataset over HTTP (local server)', () => {
  const files = tinyIdxFiles();
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('downloads, verifies and loads; a second run downloads nothing', async () => {
    server = await startServer({ files: served(files) });
    const spec = tinyIdxSpec(files, `${server.url}/files/`);
    const dataDir = makeTempDir();
    const progress: number[] = [];
    const result = await fetchDataset(spec, { dataDir, onProgress: (p) => progress.push(p.received) });
    expect(result.files.map((f) => f.source)).toEqual(['downloaded', 'downloaded', 'downloaded', 'downloaded']);
    for (const [name, data] of files) {
      expect(md5(fs.readFileSync(path.join(dataDir, 'tiny', name)))).toBe(md5(data));
      expect(fs.existsSync(path.join(dataDir, 'tiny', name + '.part'))).toBe(false);
    }
    expect(progress.length).toBeGreaterThan(0);
    const train = await loadDataset(spec, 'train', { dataDir });
    expect(train.count).toBe(6);
    expect(Array.from(train.labels)).toEqual([0, 1, 0, 1, 0, 1]);
    expect(train.images[21]).toBe((21 * 13 + 1) % 256);

    const before = server.requests.length;
    const again = await fetchDataset(spec, { dataDir });
    expect(again.files.map((f) => f.source)).toEqual(['cached', 'cached', 'cached', 'cached']);
    expect(server.requests.length).toBe(before);
  });

  it('keeps no file when the checksum does not match, and names expected vs actual', async () => {
    server = await startServer({ files: served(files) });
    const spec = tinyIdxSpec(files, `${server.url}/files/`);
    spec.files.train.images.md5 = '0123456789abcdef0123456789abcdef';
    const dataDir = makeTempDir();
    const actual = md5(files.get(IMAGES) as Uint8Array);
    await expect(fetchDataset(spec, { dataDir })).rejects.toThrow(
      new RegExp(`${IMAGES}: checksum mismatch: expected md5 0123456789abcdef0123456789abcdef, got ${actual}`),
    );
    // Not even the (then empty) dataset directory this fetch made.
    expect(fs.readdirSync(dataDir)).toEqual([]);
  });

  it('resumes with a Range request after the connection drops half way', async () => {
    server = await startServer({ files: served(files), cutFirstResponse: new Set([`/files/${IMAGES}`]) });
    const spec = tinyIdxSpec(files, `${server.url}/files/`);
    const dataDir = makeTempDir();
    const result = await fetchDataset(spec, { dataDir });
    const images = result.files.find((f) => f.file === IMAGES);
    expect(images).toMatchObject({ source: 'downloaded', resumed: true });
    const requests = server.requests.filter((r) => r.path === `/files/${IMAGES}`);
    expect(requests).toHaveLength(2);
    expect(requests[0].range).toBeUndefined();
    const size = (files.get(IMAGES) as Uint8Array).length;
    expect(requests[1].range).toBe(`bytes=${Math.floor(size / 2)}-`);
    expect(md5(fs.readFileSync(path.join(dataDir, 'tiny', IMAGES)))).toBe(md5(files.get(IMAGES) as Uint8Array));
  });

  it('resumes a .part left by an earlier, failed run', async () => {
    server = await startServer({ files: served(files), cutFirstResponse: new Set([`/files/${IMAGES}`]) });
    const spec = tinyIdxSpec(files, `${server.url}/files/`);
    const dataDir = makeTempDir();
    await expect(fetchDataset(spec, { dataDir, retries: 0 })).rejects.toThrow(/could not download train-images-idx3-ubyte\.gz/);
    const part = path.join(dataDir, 'tiny', IMAGES + '.part');
    const partSize = fs.statSync(part).size;
    expect(partSize).toBeGreaterThan(0);
    expect(fs.existsSync(path.join(dataDir, 'tiny', IMAGES))).toBe(false);

    const result = await fetchDataset(spec, { dataDir, retries: 0 });
    expect(result.files[0]).toMatchObject({ file: IMAGES, source: 'downloaded', resumed: true });
    expect(server.requests.filter((r) => r.path === `/files/${IMAGES}`).map((r) => r.range)).toEqual([undefined, `bytes=${partSize}-`]);
    expect(fs.existsSync(part)).toBe(false);
  });

  it('starts over when the server ignores Range (200 instead of 206)', async () => {
    server = await startServer({ files: served(files), ignoreRange: true });
    const spec = tinyIdxSpec(files, `${server.url}/files/`);
    const dataDir = makeTempDir();
    fs.mkdirSync(path.join(dataDir, 'tiny'));
    const full = files.get(IMAGES) as Uint8Array;
    fs.writeFileSync(path.join(dataDir, 'tiny', IMAGES + '.part'), full.subarray(0, 40));
    await fetchDataset(spec, { dataDir });
    expect(server.requests.find((r) => r.path === `/files/${IMAGES}`)?.range).toBe('bytes=40-');
    expect(md5(fs.readFileSync(path.join(dataDir, 'tiny', IMAGES)))).toBe(md5(full));
  });

  it('restarts from zero when a resumed .part turns out stale', async () => {
    server = await startServer({ files: served(files) });
    const spec = tinyIdxSpec(files, `${server.url}/files/`);
    const dataDir = makeTempDir();
    fs.mkdirSync(path.join(dataDir, 'tiny'));
    fs.writeFileSync(path.join(dataDir, 'tiny', IMAGES + '.part'), new Uint8Array(40).fill(7));
    await fetchDataset(spec, { dataDir });
    expect(server.requests.filter((r) => r.path === `/files/${IMAGES}`).map((r) => r.range)).toEqual(['bytes=40-', undefined]);
    expect(md5(fs.readFileSync(path.join(dataDir, 'tiny', IMAGES)))).toBe(md5(files.get(IMAGES) as Uint8Array));
  });

  it('uses --mirror instead of the registry URLs', async () => {
    server = await startServer({ files: served(files, '/mirror/') });
    const spec = tinyIdxSpec(files, `${await deadUrl()}/files/`);
    const dataDir = makeTempDir();
    const result = await fetchDataset(spec, { dataDir, mirror: `${server.url}/mirror` });
    expect(result.files.every((f) => f.url?.startsWith(`${server?.url}/mirror/`))).toBe(true);
    expect(server.requests).toHaveLength(4);
  });

  it('falls back to the next registry URL when one is down', async () => {
    server = await startServer({ files: served(files) });
    const spec = tinyIdxSpec(files, `${await deadUrl()}/files/`);
    spec.urls.push(`${server.url}/files/`);
    const result = await fetchDataset(spec, { dataDir: makeTempDir(), retries: 0 });
    expect(result.files.map((f) => f.source)).toEqual(['downloaded', 'downloaded', 'downloaded', 'downloaded']);
  });

  it('follows redirects and stops redirect loops', async () => {
    server = await startServer({ files: served(files), redirects: { '/old/': '/files/', '/loop/': '/loop/' } });
    const dataDir = makeTempDir();
    await fetchDataset(tinyIdxSpec(files, `${server.url}/old/`), { dataDir });
    expect(fs.existsSync(path.join(dataDir, 'tiny', IMAGES))).toBe(true);
    await expect(fetchDataset(tinyIdxSpec(files, `${server.url}/loop/`), { dataDir: makeTempDir() })).rejects.toThrow(
      /more than 5 redirects/,
    );
  });

  it('reports HTTP errors and silent servers', async () => {
    server = await startServer({ files: new Map(), hang: new Set([`/hang/${IMAGES}`]) });
    await expect(fetchDataset(tinyIdxSpec(files, `${server.url}/files/`), { dataDir: makeTempDir() })).rejects.toThrow(
      new RegExp(`${server.url}/files/${IMAGES}: HTTP 404`),
    );
    await expect(
      fetchDataset(tinyIdxSpec(files, `${server.url}/hang/`), { dataDir: makeTempDir(), timeoutMs: 300, retries: 0 }),
    ).rejects.toThrow(/no data from 127\.0\.0\.1:\d+ for 300 ms/);
  });

  it('downloads and loads a CIFAR-style tar.gz archive', async () => {
    const base = getDatasetSpec('cifar10') as CifarDatasetSpec;
    const members = [...base.layout.members.train, ...base.layout.members.test];
    const archive = gzip(
      encodeTar(members.map((m, f) => ({ name: `${base.layout.root}/${m}`, data: cifarRecords([[f], [9 - f]], f) }))),
    );
    server = await startServer({ files: new Map([['/kriz/cifar-10-binary.tar.gz', archive]]) });
    const spec: CifarDatasetSpec = { ...base, counts: { train: 10, test: 2 }, archive: { file: base.archive.file, md5: md5(archive) } };
    const dataDir = makeTempDir();
    const result = await fetchDataset(spec, { dataDir, mirror: `${server.url}/kriz/` });
    expect(result.files).toHaveLength(1);
    const train = await loadDataset(spec, 'train', { dataDir });
    expect(train.count).toBe(10);
    expect(Array.from(train.labels.subarray(0, 4))).toEqual([0, 9, 1, 8]);
    const test = await loadDataset(spec, 'test', { dataDir });
    expect(Array.from(test.labels)).toEqual([5, 4]);
  });
});

describe('when the data cannot be had', () => {
  const files = tinyIdxFiles();

  it('a failed download leaves no empty directory behind and names every way out', async () => {
    const spec = tinyIdxSpec(files, `${await deadUrl()}/files/`);
    const parent = makeTempDir();
    const dataDir = path.join(parent, 'data');
    const failure = fetchDataset(spec, { dataDir, retries: 0 });
    await expect(failure).rejects.toThrow(/^tiny: could not download train-images-idx3-ubyte\.gz: /);
    await expect(failure).rejects.toThrow(
      /ways out: \(1\) put train-images-idx3-ubyte\.gz, .* in .*data\/tiny\/ or pass --data-dir DIR .*; \(2\) .*mat data fetch tiny --data-dir .*data --mirror URL/,
    );
    // Neither <dataDir>/tiny nor <dataDir> itself, both made by this fetch, is left behind.
    expect(fs.readdirSync(parent)).toEqual([]);

    // A data directory that was there before stays, and so do files fetched before the failure.
    fs.mkdirSync(dataDir);
    await expect(fetchDataset(spec, { dataDir, retries: 0 })).rejects.toThrow(/ways out/);
    expect(fs.readdirSync(dataDir)).toEqual([]);
  });

  it('a local file that fails its checksum is named as the reason, with what it is and what was expected', async () => {
    const spec = tinyIdxSpec(files, `${await deadUrl()}/files/`);
    const dataDir = makeTempDir();
    fs.mkdirSync(path.join(dataDir, 'tiny'));
    const local = path.join(dataDir, 'tiny', IMAGES);
    fs.writeFileSync(local, Buffer.from('a stand-in, not the real file'));
    await expect(fetchDataset(spec, { dataDir, retries: 0 })).rejects.toThrow(
      new RegExp(`^tiny: ${local.replace(/[.]/g, '\\.')} fails its checksum \\(md5 [0-9a-f]{32}\\); downloading it again; could not download`),
    );
    // Left as it was: only a verified download replaces it.
    expect(fs.readFileSync(local, 'utf8')).toBe('a stand-in, not the real file');
  });

  it('names the Debian package among the ways out where there is one', async () => {
    const spec = { ...tinyIdxSpec(files, `${await deadUrl()}/files/`) };
    spec.debian = { package: 'dataset-tiny', dir: makeTempDir('mat-no-debian-'), md5: {} };
    await expect(fetchDataset(spec, { dataDir: makeTempDir(), retries: 0 })).rejects.toThrow(
      /ways out: \(1\) install the Debian package dataset-tiny \(apt-get install dataset-tiny\); \(2\) put /,
    );
    await expect(loadDataset(spec, 'train', { dataDir: makeTempDir() })).rejects.toThrow(
      /not found .*mat data fetch tiny.*\n.*ways out: \(1\) install the Debian package dataset-tiny/s,
    );
  });

  it('takes a local directory as the mirror, where the Debian package\'s recompressed copies verify too', async () => {
    const mirror = makeTempDir('mat-mirror-');
    for (const [name, data] of files) fs.writeFileSync(path.join(mirror, name), data);
    const recompressed = gzip(encodeIdx(8, [4], Uint8Array.from([0, 1, 0, 1])));
    fs.writeFileSync(path.join(mirror, 't10k-labels-idx1-ubyte.gz'), recompressed);
    const spec = tinyIdxSpec(files, `${await deadUrl()}/files/`);
    spec.debian = {
      package: 'dataset-tiny',
      dir: makeTempDir('mat-no-debian-'),
      md5: { 't10k-labels-idx1-ubyte.gz': md5(recompressed) },
    };
    const dataDir = makeTempDir();
    const result = await fetchDataset(spec, { dataDir, mirror });
    expect(result.files.map((f) => f.source)).toEqual(['downloaded', 'downloaded', 'downloaded', 'downloaded']);
    expect(result.files[0].url).toBe(`file://${mirror}/${IMAGES}`);
    const again = await fetchDataset(spec, { dataDir, mirror: `file://${mirror}/` });
    expect(again.files.map((f) => f.source)).toEqual(['cached', 'cached', 'cached', 'cached']);
    expect((await loadDataset(spec, 'test', { dataDir })).count).toBe(4);

    // A file the mirror lacks is an error naming it; a resumed copy continues where a .part stopped.
    fs.rmSync(path.join(mirror, IMAGES));
    await expect(fetchDataset(spec, { dataDir: makeTempDir(), mirror })).rejects.toThrow(
      new RegExp(`file://${mirror}/${IMAGES}: HTTP 404`),
    );
    fs.writeFileSync(path.join(mirror, IMAGES), files.get(IMAGES) as Uint8Array);
    const resumedDir = makeTempDir();
    fs.mkdirSync(path.join(resumedDir, 'tiny'));
    fs.writeFileSync(path.join(resumedDir, 'tiny', IMAGES + '.part'), (files.get(IMAGES) as Uint8Array).subarray(0, 30));
    const resumed = await fetchDataset(spec, { dataDir: resumedDir, mirror });
    expect(resumed.files[0]).toMatchObject({ source: 'downloaded', resumed: true });
    expect(md5(fs.readFileSync(path.join(resumedDir, 'tiny', IMAGES)))).toBe(md5(files.get(IMAGES) as Uint8Array));
  });
});

describe('Debian copies and missing files', () => {
  const files = tinyIdxFiles();

  it('uses intact Debian files and downloads the ones that fail their checksum', async () => {
    const debianDir = makeTempDir('mat-debian-');
    for (const [name, data] of files) fs.writeFileSync(path.join(debianDir, name), data);
    fs.writeFileSync(path.join(debianDir, IMAGES), new Uint8Array(10));
    const server = await startServer({ files: served(files) });
    try {
      const spec = tinyIdxSpec(files, `${server.url}/files/`);
      // Debian's own md5 for one file (as if recompressed by the package), the others match upstream.
      const recompressed = gzip(encodeIdx(8, [4], Uint8Array.from([0, 1, 0, 1])));
      fs.writeFileSync(path.join(debianDir, 't10k-labels-idx1-ubyte.gz'), recompressed);
      spec.debian = { package: 'tiny-debian', dir: debianDir, md5: { 't10k-labels-idx1-ubyte.gz': md5(recompressed) } };
      const dataDir = makeTempDir();
      const result = await fetchDataset(spec, { dataDir });
      expect(result.files.map((f) => f.source)).toEqual(['downloaded', 'debian', 'debian', 'debian']);
      expect(result.notes.join('\n')).toMatch(new RegExp(`ignoring the Debian copy: .*${IMAGES} \\(package tiny-debian\\) has md5`));
      expect(server.requests.map((r) => r.path)).toEqual([`/files/${IMAGES}`]);
      const test = await loadDataset(spec, 'test', { dataDir });
      expect(test.count).toBe(4);
    } finally {
      await server.close();
    }
  });

  it('tells the user to run `mat data fetch` when files are missing', async () => {
    const spec = tinyIdxSpec(files, 'http://unused.invalid/');
    await expect(loadDataset(spec, 'train', { dataDir: makeTempDir() })).rejects.toThrow(
      /tiny: train-images-idx3-ubyte\.gz not found \(looked in .*\); run `mat data fetch tiny`/,
    );
    await expect(loadDataset('cifar100', 'test', { dataDir: makeTempDir() })).rejects.toThrow(
      /cifar100: cifar-100-binary\.tar\.gz not found .*`mat data fetch cifar100`/,
    );
  });

  it(
    'fetches Fashion-MNIST from the installed Debian package without any network request',
    async () => {
      const result = await fetchDataset('fashion-mnist', {
        dataDir: makeTempDir(),
        fetchImpl: () => Promise.reject(new Error('no network in this test')),
      });
      expect(result.files.map((f) => f.source)).toEqual(['debian', 'debian', 'debian', 'debian']);
      expect(result.files.map((f) => f.file)).toEqual(remoteFiles(getDatasetSpec('fashion-mnist')).map((f) => f.file));
    },
  );
});
