/**
 * A minimal reader for tar archives (POSIX ustar, plus the GNU long-name and pax `path` extensions),
 * enough for the CIFAR binary archives without adding a dependency. Headers are 512-byte blocks:
 *   name[0,100) mode uid gid size[124,136) mtime chksum[148,156) typeflag[156] linkname
 *   magic[257,263) "ustar" ... prefix[345,500)
 * Member data follows its header, padded to a multiple of 512; two zero blocks end the archive.
 */

const BLOCK = 512;

function readString(bytes: Uint8Array, start: number, length: number): string {
  let end = start;
  while (end < start + length && bytes[end] !== 0) end++;
  return Buffer.from(bytes.subarray(start, end)).toString('utf8');
}

/** Numeric header fields are NUL/space-terminated octal, or base-256 when the top bit of the first byte is set. */
function readNumber(bytes: Uint8Array, start: number, length: number, what: string): number {
  if (bytes[start] & 0x80) {
    let value = bytes[start] & 0x7f;
    for (let i = start + 1; i < start + length; i++) value = value * 256 + bytes[i];
    return value;
  }
  const text = readString(bytes, start, length).trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw new Error(`invalid ${what} field "${text}"`);
  return parseInt(text, 8);
}

function isZeroBlock(bytes: Uint8Array, offset: number): boolean {
  for (let i = offset; i < offset + BLOCK; i++) if (bytes[i] !== 0) return false;
  return true;
}

/** The header checksum is the byte sum of the header with the checksum field read as eight spaces. */
function headerChecksum(bytes: Uint8Array, offset: number): number {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : bytes[offset + i];
  return sum;
}

function normalizeName(name: string): string {
  return name.replace(/^(\.\/)+/, '');
}

/** Extracts the `path` record from a pax extended header ("<len> path=<value>\n" records). */
function paxPath(data: Uint8Array): string | undefined {
  const text = Buffer.from(data).toString('utf8');
  for (const line of text.split('\n')) {
    const match = /^\d+ path=(.*)$/.exec(line);
    if (match) return match[1];
  }
  return undefined;
}

/**
 * Returns the regular files of an (uncompressed) tar archive by path, leading `./` removed. Data are
 * views into `bytes`. Throws naming `archiveName` on a bad header, a bad checksum or a truncated member.
 */
export function readTar(bytes: Uint8Array, archiveName: string): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>();
  let offset = 0;
  let nextName: string | undefined;
  while (offset + BLOCK <= bytes.length) {
    if (isZeroBlock(bytes, offset)) break;
    const stored = (() => {
      try {
        return readNumber(bytes, offset + 148, 8, 'checksum');
      } catch {
        return -1;
      }
    })();
    if (stored !== headerChecksum(bytes, offset)) {
      const hint = offset === 0 ? ' (not a tar archive?)' : '';
      throw new Error(`${archiveName}: bad tar header checksum at offset ${offset}${hint}`);
    }
    let size: number;
    try {
      size = readNumber(bytes, offset + 124, 12, 'size');
    } catch (err) {
      throw new Error(`${archiveName}: tar header at offset ${offset}: ${(err as Error).message}`);
    }
    const type = String.fromCharCode(bytes[offset + 156]);
    const magic = readString(bytes, offset + 257, 6);
    const prefix = magic.startsWith('ustar') ? readString(bytes, offset + 345, 155) : '';
    const headerName = (prefix ? prefix + '/' : '') + readString(bytes, offset, 100);
    const dataStart = offset + BLOCK;
    if (dataStart + size > bytes.length) {
      throw new Error(
        `${archiveName}: truncated: member ${headerName} declares ${size} bytes, archive has ${bytes.length - dataStart} after its header`,
      );
    }
    const data = bytes.subarray(dataStart, dataStart + size);
    offset = dataStart + Math.ceil(size / BLOCK) * BLOCK;

    if (type === 'L') {
      nextName = readString(data, 0, data.length); // GNU long name for the next member
      continue;
    }
    if (type === 'x') {
      nextName = paxPath(data) ?? nextName;
      continue;
    }
    const name = normalizeName(nextName ?? headerName);
    nextName = undefined;
    if (type === '0' || type === '\0' || type === '7') files.set(name, data);
    // Directories, links, global pax headers and device files carry no data we need.
  }
  return files;
}
