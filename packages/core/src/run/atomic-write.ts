import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/**
 * The project's one way to write a file that readers or a restart may see at any moment (run config,
 * summary, coordinator record, metrics rewrite, checkpoint files and manifests, eval and report files):
 * the bytes go to a temporary file beside it, which is fsynced and renamed over `file`, so a crash leaves
 * the old file or the new one, never part of one. The directory is then fsynced (best effort) so the rename
 * itself survives a power loss. Synchronous, so callers can rely on the order of several writes (a
 * checkpoint's manifest after its peer files).
 *
 * Why not the write-file-atomic package (which this replaced): up to its latest version (8.0.0) it makes a
 * single write(2) and ignores how many bytes it took. When the disk fills, write(2) takes what fits and
 * returns a short count without an error, and the package renamed the truncated file over the good one (seen:
 * a 2 MB checkpoint file of a 3.4 MB peer under its final name on a full disk). Here every byte is written
 * or the write fails with the reason, naming the file, and the old file stays as it was.
 */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : toBuffer(data);
  const temp = join(dirname(file), `.${basename(file)}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
  let fd: number | undefined;
  try {
    fd = openSync(temp, 'wx', 0o666); // less the umask, as any new file
    for (let done = 0; done < bytes.length;) {
      // A short count (the disk filled up) is followed by another write, which then fails with ENOSPC.
      done += writeSync(fd, bytes, done, bytes.length - done, done);
    }
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(temp, file);
  } catch (err) {
    if (fd !== undefined) closeQuietly(fd);
    rmSync(temp, { force: true });
    throw writeError(file, err as NodeJS.ErrnoException);
  }
  syncDirectory(dirname(file));
}

/** `value` as pretty-printed JSON (two-space indent), written atomically. */
export function writeJsonAtomic(file: string, value: unknown): void {
  writeFileAtomic(file, JSON.stringify(value, null, 2) + '\n');
}

/** "cannot write F: no space left on device (ENOSPC); the file there before, if any, is unchanged", code kept. */
function writeError(file: string, err: NodeJS.ErrnoException): NodeJS.ErrnoException {
  const reason = err.code === 'ENOSPC' ? 'no space left on device' : err.message;
  const out: NodeJS.ErrnoException = new Error(
    `cannot write ${file}: ${reason}${err.code ? ` (${err.code})` : ''}; the file there before, if any, is unchanged`,
  );
  out.code = err.code;
  return out;
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // Already failing with the write's own error.
  }
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
