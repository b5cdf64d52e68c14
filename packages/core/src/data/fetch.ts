import * as fs from 'fs';
import * as path from 'path';
import { pathToFileURL } from 'url';
import { loadCifarArchive } from './cifar';
import { fileDigest, verifyFile } from './checksum';
import { Dataset, Split } from './dataset';
import { DownloadOptions, downloadVerified } from './download';
import { loadIdxDataset } from './idx';
import { DatasetSpec, IdxDatasetSpec, RemoteFile, getDatasetSpec, remoteFiles } from './registry';

export interface FetchOptions extends DownloadOptions {
  /** Files go to `<dataDir>/<dataset name>/`. */
  dataDir: string;
  /** Base URL that replaces the registry's URLs, e.g. a local mirror (`--mirror`). */
  mirror?: string;
  /** Where the Debian package's files are; `null` ignores them. @defaultValue the registry's Debian dir */
  debianDir?: string | null;
}

export interface FetchedFile {
  file: string;
  /** Where the verified file is: under dataDir, or the Debian package's copy. */
  path: string;
  source: 'debian' | 'cached' | 'downloaded';
  url?: string;
  resumed?: boolean;
}

export interface FetchResult {
  name: string;
  /** `<dataDir>/<name>` */
  dir: string;
  files: FetchedFile[];
  /** Things the user should know, e.g. a Debian file that failed its checksum and was downloaded instead. */
  notes: string[];
}

function resolveSpec(nameOrSpec: string | DatasetSpec): DatasetSpec {
  return typeof nameOrSpec === 'string' ? getDatasetSpec(nameOrSpec) : nameOrSpec;
}

function debianDirOf(spec: DatasetSpec, override: string | null | undefined): string | undefined {
  if (spec.format !== 'idx' || !spec.debian || override === null) return undefined;
  return override ?? spec.debian.dir;
}

/** md5 that dpkg recorded for an installed file, so a newer package version than the registry's still verifies. */
function dpkgMd5(pkg: string, absPath: string): string | undefined {
  try {
    const list = fs.readFileSync(`/var/lib/dpkg/info/${pkg}.md5sums`, 'utf8');
    const rel = absPath.replace(/^\//, '');
    for (const line of list.split('\n')) {
      const [md5, file] = line.trim().split(/\s+/);
      if (file === rel) return md5;
    }
  } catch {
    // not a Debian system or the package is not installed
  }
  return undefined;
}

/** Accepts a Debian-shipped file whose md5 is upstream's, the registry's Debian md5, or dpkg's record. */
async function verifyDebianFile(spec: IdxDatasetSpec, filePath: string, remote: RemoteFile): Promise<string | undefined> {
  const debian = spec.debian;
  if (!debian) return 'no Debian source';
  const actual = await fileDigest(filePath, 'md5');
  const accepted = [remote.md5, debian.md5[remote.file], dpkgMd5(debian.package, filePath)];
  if (accepted.includes(actual)) return undefined;
  return `${filePath} (package ${debian.package}) has md5 ${actual}, expected ${accepted.filter(Boolean).join(' or ')}`;
}

/**
 * md5s that stand for the same content as `remote` though the bytes differ: the Debian package's
 * recompressed copies. A mirror of the package's directory then verifies like the upstream files.
 */
function recompressedMd5s(spec: DatasetSpec, remote: RemoteFile): string[] {
  const md5 = spec.format === 'idx' ? spec.debian?.md5[remote.file] : undefined;
  return md5 ? [md5] : [];
}

/**
 * What a user can do when a dataset cannot be had: the Debian package (where one exists), files of their
 * own under --data-dir, or a mirror (a URL or a local directory).
 */
export function waysToGetDataset(spec: DatasetSpec, dataDir: string): string {
  const ways: string[] = [];
  if (spec.format === 'idx' && spec.debian)
    ways.push(`install the Debian package ${spec.debian.package} (apt-get install ${spec.debian.package})`);
  const files = remoteFiles(spec)
    .map((f) => f.file)
    .join(', ');
  ways.push(
    `put ${files} in ${path.join(dataDir, spec.name)}/ or pass --data-dir DIR with them in DIR/${spec.name}/`,
    `fetch them from a mirror: mat data fetch ${spec.name} --data-dir ${dataDir} --mirror URL ` +
      '(an http(s) URL, or a local directory holding the files)',
  );
  return `ways out: ${ways.map((w, i) => `(${i + 1}) ${w}`).join('; ')}`;
}

/** Base URLs to try; a mirror may be a local directory (absolute path or file: URL). */
function baseUrls(spec: DatasetSpec, mirror: string | undefined): string[] {
  const bases = mirror ? [path.isAbsolute(mirror) ? pathToFileURL(mirror).href : mirror] : spec.urls;
  return bases.map((base) => (base.endsWith('/') ? base : base + '/'));
}

/** Removes the directories this fetch created, innermost first, as long as they are empty. */
function removeEmptyCreated(created: string | undefined, dir: string): void {
  if (!created) return;
  for (let d = dir; ; d = path.dirname(d)) {
    try {
      fs.rmdirSync(d); // only succeeds on an empty directory
    } catch {
      return;
    }
    if (path.resolve(d) === path.resolve(created)) return;
  }
}

/**
 * Makes every file of a dataset available and verified: the Debian package's copy when installed and
 * intact (Fashion-MNIST), else an already-downloaded file that still matches its checksum, else a
 * resumable download (see `downloadVerified`). Safe to re-run; verified files are never fetched again.
 */
export async function fetchDataset(nameOrSpec: string | DatasetSpec, opts: FetchOptions): Promise<FetchResult> {
  const spec = resolveSpec(nameOrSpec);
  const dir = path.join(opts.dataDir, spec.name);
  const debianDir = debianDirOf(spec, opts.debianDir);
  const result: FetchResult = { name: spec.name, dir, files: [], notes: [] };

  for (const remote of remoteFiles(spec)) {
    if (debianDir && spec.format === 'idx') {
      const debianPath = path.join(debianDir, remote.file);
      if (fs.existsSync(debianPath)) {
        const problem = await verifyDebianFile(spec, debianPath, remote);
        if (!problem) {
          result.files.push({ file: remote.file, path: debianPath, source: 'debian' });
          continue;
        }
        result.notes.push(`ignoring the Debian copy: ${problem}; downloading instead`);
      }
    }

    const destPath = path.join(dir, remote.file);
    const alsoAccept = recompressedMd5s(spec, remote);
    if (fs.existsSync(destPath)) {
      const check = await verifyFile(destPath, remote);
      if (check.ok || alsoAccept.includes(await fileDigest(destPath, 'md5'))) {
        result.files.push({ file: remote.file, path: destPath, source: 'cached' });
        continue;
      }
      // Left in place until a verified replacement is renamed over it.
      result.notes.push(`${destPath} fails its checksum (${check.algorithm} ${check.actual}); downloading it again`);
    }

    // mkdirSync returns the first directory it had to create: a failure removes what it made, if empty.
    const created = fs.mkdirSync(dir, { recursive: true });
    const urls = baseUrls(spec, opts.mirror).map((base) => base + remote.file);
    try {
      const { url, resumed } = await downloadVerified(urls, destPath, remote, { ...opts, alsoAcceptMd5: alsoAccept });
      result.files.push({ file: remote.file, path: destPath, source: 'downloaded', url, resumed });
    } catch (err) {
      removeEmptyCreated(created, dir);
      // The local file that failed its checksum is why a download was tried: say so first.
      const before = result.notes.filter((n) => n.startsWith(destPath));
      throw new Error(
        `${spec.name}: ${[...before, (err as Error).message].join('; ')}\n${waysToGetDataset(spec, opts.dataDir)}`,
      );
    }
  }
  return result;
}

export interface LoadOptions {
  dataDir: string;
  /** As in `FetchOptions`; `null` ignores the Debian copy. */
  debianDir?: string | null;
}

/** The first place a dataset file exists: `<dataDir>/<name>/`, then the Debian package's directory. */
function locate(spec: DatasetSpec, file: string, opts: LoadOptions): string {
  const candidates = [path.join(opts.dataDir, spec.name, file)];
  const debianDir = debianDirOf(spec, opts.debianDir);
  if (debianDir) candidates.push(path.join(debianDir, file));
  const found = candidates.find((c) => fs.existsSync(c));
  if (found) return found;
  throw new Error(
    `${spec.name}: ${file} not found (looked in ${candidates.join(', ')}); ` +
      `run \`mat data fetch ${spec.name}\` with the same data directory to download it, or\n` +
      waysToGetDataset(spec, opts.dataDir),
  );
}

/** Loads one split of a dataset that `fetchDataset` made available. */
export async function loadDataset(nameOrSpec: string | DatasetSpec, split: Split, opts: LoadOptions): Promise<Dataset> {
  const spec = resolveSpec(nameOrSpec);
  if (split !== 'train' && split !== 'test') throw new Error(`${spec.name}: unknown split "${split}" (train or test)`);
  const meta = { name: spec.name, split, numClasses: spec.numClasses, classNames: spec.classNames };
  if (spec.format === 'cifar') {
    const layout = { ...spec.layout, counts: spec.counts };
    return loadCifarArchive(locate(spec, spec.archive.file, opts), layout, split, meta);
  }
  const files = spec.files[split];
  return loadIdxDataset(locate(spec, files.images.file, opts), locate(spec, files.labels.file, opts), {
    ...meta,
    expectedCount: spec.counts[split],
    expectedShape: spec.shape,
  });
}
