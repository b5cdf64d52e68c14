import { promisify } from 'util';
import * as zlib from 'zlib';

const gunzipAsync = promisify(zlib.gunzip);

/** gzip streams start with the magic bytes 1f 8b (RFC 1952). */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Decompresses `bytes` when they are gzip, otherwise returns them unchanged. Runs on libuv's thread pool
 * so a large archive does not block the event loop. `fileName` is only used in error messages.
 */
export async function maybeGunzip(bytes: Uint8Array, fileName: string): Promise<Uint8Array> {
  if (!isGzip(bytes)) return asPlainBytes(bytes);
  try {
    return asPlainBytes(await gunzipAsync(bytes));
  } catch (err) {
    throw new Error(`${fileName}: corrupt gzip data: ${(err as Error).message}`);
  }
}

/** A plain Uint8Array view of the same memory (Node Buffers are a subclass with different equality). */
export function asPlainBytes(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
