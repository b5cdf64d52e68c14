import { closeSync, fsyncSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import writeFileAtomicLib from 'write-file-atomic';

/**
 * The project's one way to write a file that readers or a restart may see at any moment (run config,
 * summary, coordinator record, metrics rewrite, checkpoint files and manifests, eval and report files):
 * write-file-atomic writes a temporary file beside it, fsyncs it and renames it over `file`, so a crash
 * leaves the old file or the new one, never part of one. The directory is then fsynced (best effort) so
 * the rename itself survives a power loss. Synchronous, so callers can rely on the order of several
 * writes (a checkpoint's manifest after its peer files).
 */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  writeFileAtomicLib.sync(file, typeof data === 'string' ? data : toBuffer(data));
  syncDirectory(dirname(file));
}

/** `value` as pretty-printed JSON (two-space indent), written atomically. */
export function writeJsonAtomic(file: string, value: unknown): void {
  writeFileAtomic(file, JSON.stringify(value, null, 2) + '\n');
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function syncDirectory(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Some platforms cannot fsync a directory; the rename itself has happened.
  }
}
