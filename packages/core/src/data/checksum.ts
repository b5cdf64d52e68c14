import { createHash, type Hash } from 'crypto';
import * as fs from 'fs';
import { pipeline } from 'stream/promises';
import type { RemoteFile } from './registry';

export type DigestAlgorithm = 'md5' | 'sha256';

/** Hex digest of a file, streamed (CIFAR archives are ~170 MB). */
export async function fileDigest(filePath: string, algorithm: DigestAlgorithm): Promise<string> {
  const hash = createHash(algorithm);
  await pipeline(fs.createReadStream(filePath), hash);
  return hash.digest('hex');
}

/**
 * Feeds a file into `hash` in 1 MiB reads, synchronously: for decisions a process makes from the files on
 * disk before it does anything else (e.g. which weights an evaluation measured).
 */
export function hashFileSync(hash: Hash, filePath: string): Hash {
  const fd = fs.openSync(filePath, 'r');
  try {
    const chunk = Buffer.allocUnsafe(1 << 20);
    for (let n; (n = fs.readSync(fd, chunk, 0, chunk.length, null)) > 0; ) hash.update(chunk.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return hash;
}

/** Hex sha256 of one file (synchronous: see hashFileSync). */
export function fileSha256Sync(filePath: string): string {
  return hashFileSync(createHash('sha256'), filePath).digest('hex');
}

export interface ChecksumResult {
  ok: boolean;
  algorithm: DigestAlgorithm;
  expected: string;
  actual: string;
}

/** Checks a file against the strongest checksum `remote` publishes (sha256 over md5). */
export async function verifyFile(filePath: string, remote: RemoteFile): Promise<ChecksumResult> {
  const algorithm: DigestAlgorithm | undefined = remote.sha256 ? 'sha256' : remote.md5 ? 'md5' : undefined;
  if (!algorithm) throw new Error(`${remote.file}: the registry gives no md5 or sha256 to verify it with`);
  const expected = ((algorithm === 'sha256' ? remote.sha256 : remote.md5) ?? '').toLowerCase();
  const actual = await fileDigest(filePath, algorithm);
  return { ok: actual === expected, algorithm, expected, actual };
}

export function describeMismatch(file: string, result: ChecksumResult): string {
  return `${file}: checksum mismatch: expected ${result.algorithm} ${result.expected}, got ${result.actual}`;
}
