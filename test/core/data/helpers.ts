import { createHash } from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import { AddressInfo } from 'net';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';

export function makeTempDir(prefix = 'mat-data-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function md5(bytes: Uint8Array): string {
  return createHash('md5').update(bytes).digest('hex');
}

export function gzip(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(zlib.gzipSync(bytes));
}

/** A ustar archive of regular files, written from the format description (headers + 512-byte padding). */
export function encodeTar(entries: { name: string; data: Uint8Array }[]): Uint8Array {
  const blocks: Uint8Array[] = [];
  for (const { name, data } of entries) {
    const header = new Uint8Array(512);
    const put = (text: string, at: number) => header.set(Buffer.from(text, 'utf8'), at);
    put(name, 0);
    put('0000644\0', 100);
    put('0000000\0', 108);
    put('0000000\0', 116);
    put(data.length.toString(8).padStart(11, '0') + '\0', 124);
    put('00000000000\0', 136);
    put('        ', 148);
    put('0', 156);
    put('ustar\0', 257);
    put('00', 263);
    const sum = header.reduce((a, b) => a + b, 0);
    put(sum.toString(8).padStart(6, '0') + '\0 ', 148);
    blocks.push(header, data, new Uint8Array((512 - (data.length % 512)) % 512));
  }
  blocks.push(new Uint8Array(1024));
  return Buffer.concat(blocks);
}

/**
 * CIFAR records with a known pattern: record r gets `labels[r]` (each an array of label bytes) and pixel
 * p of plane c is (p + 7c + 31r + salt) mod 256, so a test can check the CHW -> HWC conversion by hand.
 */
export function cifarRecords(labels: number[][], salt: number): Uint8Array {
  const recordBytes = labels[0].length + 3072;
  const out = new Uint8Array(labels.length * recordBytes);
  labels.forEach((lab, r) => {
    const rec = r * recordBytes;
    out.set(lab, rec);
    for (let c = 0; c < 3; c++) {
      for (let p = 0; p < 1024; p++) out[rec + lab.length + c * 1024 + p] = (p + 7 * c + 31 * r + salt) % 256;
    }
  });
  return out;
}

export function cifarPixel(p: number, c: number, r: number, salt: number): number {
  return (p + 7 * c + 31 * r + salt) % 256;
}

export interface RecordedRequest {
  path: string;
  range?: string;
}

export interface TestServer {
  url: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

export interface ServeOptions {
  /** Files by URL path, e.g. `/files/a.gz`. */
  files: Map<string, Uint8Array>;
  /** Paths whose first full (non-Range) response is cut after half the bytes. */
  cutFirstResponse?: Set<string>;
  /** Answer every request with 200 and the whole file, ignoring Range. */
  ignoreRange?: boolean;
  /** Path prefix redirects: `/old/` -> `/files/`. */
  redirects?: Record<string, string>;
  /** Paths that never answer (for timeouts). */
  hang?: Set<string>;
}

/** A static file server on 127.0.0.1, port 0, that records every request and can misbehave on purpose. */
export async function startServer(opts: ServeOptions): Promise<TestServer> {
  const requests: RecordedRequest[] = [];
  const cut = new Set(opts.cutFirstResponse ?? []);
  const server = http.createServer((req, res) => {
    const urlPath = req.url ?? '/';
    requests.push({ path: urlPath, range: req.headers.range });
    if (opts.hang?.has(urlPath)) return; // never answer
    for (const [from, to] of Object.entries(opts.redirects ?? {})) {
      if (urlPath.startsWith(from)) {
        res.writeHead(302, { location: to + urlPath.slice(from.length) });
        res.end();
        return;
      }
    }
    const body = opts.files.get(urlPath);
    if (!body) {
      res.writeHead(404);
      res.end('not found');
      return;
    }
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (range && !opts.ignoreRange) {
      const start = Number(range[1]);
      if (start >= body.length) {
        res.writeHead(416, { 'content-range': `bytes */${body.length}` });
        res.end();
        return;
      }
      res.writeHead(206, {
        'content-length': body.length - start,
        'content-range': `bytes ${start}-${body.length - 1}/${body.length}`,
      });
      res.end(Buffer.from(body.subarray(start)));
      return;
    }
    res.writeHead(200, { 'content-length': body.length });
    if (cut.has(urlPath)) {
      cut.delete(urlPath);
      const half = Math.floor(body.length / 2);
      res.write(Buffer.from(body.subarray(0, half)), () => setTimeout(() => res.socket?.end(), 20));
      return;
    }
    res.end(Buffer.from(body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A URL on which nothing listens (a server that was started and closed). */
export async function deadUrl(): Promise<string> {
  const server = await startServer({ files: new Map() });
  await server.close();
  return server.url;
}
