import * as fs from 'fs';
import * as path from 'path';
import { Dataset, ImageShape, Split, checkDataset } from './dataset';
import { maybeGunzip } from './gzip';
import { readTar } from './tar';

/**
 * CIFAR-10 / CIFAR-100 "binary version" (https://www.cs.toronto.edu/~kriz/cifar.html). Each member file
 * is a sequence of fixed-size records:
 *   <label bytes> <1024 red> <1024 green> <1024 blue>
 * with each 1024-byte plane a 32x32 image in row-major order. CIFAR-10 has 1 label byte; CIFAR-100 has 2
 * (coarse label in [0, 20), then fine label in [0, 100)). We convert the CHW planes to HWC.
 */
export const CIFAR_SHAPE: ImageShape = [32, 32, 3];
const PLANE = 32 * 32;
const IMAGE_BYTES = 3 * PLANE;

export interface CifarLayout {
  /** Folder inside the archive, e.g. `cifar-10-batches-bin`. */
  root: string;
  /** Member files (relative to `root`) of each split, in order. */
  members: Record<Split, string[]>;
  /** Exclusive upper bound of each label byte, e.g. [10] for CIFAR-10, [20, 100] for CIFAR-100 (coarse, fine). */
  labelRanges: number[];
  /** Which label byte is the class: 0 for CIFAR-10, 1 (fine) for CIFAR-100. */
  labelIndex: number;
  /** When given, the number of records each split must hold. */
  counts?: Record<Split, number>;
}

export interface CifarMeta {
  name: string;
  classNames?: string[];
}

/** Decodes the records of one member file into HWC images and labels, validating size and label ranges. */
export function decodeCifarRecords(
  bytes: Uint8Array,
  layout: CifarLayout,
  memberName: string,
): { images: Uint8Array; labels: Int32Array; count: number } {
  const labelBytes = layout.labelRanges.length;
  const recordBytes = labelBytes + IMAGE_BYTES;
  if (bytes.length % recordBytes !== 0) {
    throw new Error(
      `${memberName}: ${bytes.length} bytes is not a whole number of ${recordBytes}-byte records ` +
        `(${Math.floor(bytes.length / recordBytes)} records and ${bytes.length % recordBytes} bytes left over)`,
    );
  }
  const count = bytes.length / recordBytes;
  const images = new Uint8Array(count * IMAGE_BYTES);
  const labels = new Int32Array(count);
  for (let r = 0; r < count; r++) {
    const rec = r * recordBytes;
    for (let b = 0; b < labelBytes; b++) {
      const value = bytes[rec + b];
      if (value >= layout.labelRanges[b]) {
        const which = labelBytes > 1 ? ` byte ${b}` : '';
        throw new Error(`${memberName}: label${which} ${value} in record ${r} is outside [0, ${layout.labelRanges[b]})`);
      }
    }
    labels[r] = bytes[rec + layout.labelIndex];
    const src = rec + labelBytes;
    const dst = r * IMAGE_BYTES;
    for (let p = 0; p < PLANE; p++) {
      images[dst + 3 * p] = bytes[src + p];
      images[dst + 3 * p + 1] = bytes[src + PLANE + p];
      images[dst + 3 * p + 2] = bytes[src + 2 * PLANE + p];
    }
  }
  return { images, labels, count };
}

/** Builds one split from the members of an already-read archive. */
export function cifarSplitFromMembers(
  files: Map<string, Uint8Array>,
  layout: CifarLayout,
  split: Split,
  meta: CifarMeta,
  archiveName: string,
): Dataset {
  const parts = layout.members[split].map((member) => {
    const full = `${layout.root}/${member}`;
    const data = files.get(full);
    if (!data) {
      const present = [...files.keys()].join(', ') || 'no files';
      throw new Error(`${archiveName}: missing member ${full} (archive has: ${present})`);
    }
    return decodeCifarRecords(data, layout, `${archiveName}:${full}`);
  });
  const count = parts.reduce((n, p) => n + p.count, 0);
  const expected = layout.counts?.[split];
  if (expected !== undefined && count !== expected) {
    throw new Error(`${archiveName}: ${split} split has ${count} records, ${meta.name} has ${expected}`);
  }
  const images = new Uint8Array(count * IMAGE_BYTES);
  const labels = new Int32Array(count);
  let at = 0;
  for (const part of parts) {
    images.set(part.images, at * IMAGE_BYTES);
    labels.set(part.labels, at);
    at += part.count;
  }
  return checkDataset({
    name: meta.name,
    split,
    images,
    labels,
    count,
    shape: [...CIFAR_SHAPE],
    numClasses: layout.labelRanges[layout.labelIndex],
    classNames: meta.classNames,
  });
}

/** Reads one split straight from the (gzip-compressed) tar archive, without extracting it to disk. */
export async function loadCifarArchive(
  archivePath: string,
  layout: CifarLayout,
  split: Split,
  meta: CifarMeta,
): Promise<Dataset> {
  const archiveName = path.basename(archivePath);
  const tar = await maybeGunzip(await fs.promises.readFile(archivePath), archiveName);
  return cifarSplitFromMembers(readTar(tar, archiveName), layout, split, meta, archiveName);
}
