import * as fs from 'fs';
import * as http from 'http';
import * as https from 'https';
import { PassThrough, Readable, Transform } from 'stream';
import { pipeline } from 'stream/promises';
import { fileURLToPath } from 'url';
import { describeMismatch, fileDigest, verifyFile } from './checksum';
import type { RemoteFile } from './registry';

/** What an HTTP GET gives back; the body must be consumed or destroyed. */
export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Readable;
}

/** One HTTP GET without following redirects (the downloader follows them so any implementation works). */
export type HttpGet = (url: string, headers: Record<string, string>, timeoutMs: number) => Promise<HttpResponse>;

export interface DownloadProgress {
  file: string;
  url: string;
  /** Bytes of the file on disk so far, including a resumed prefix. */
  received: number;
  /** Full file size when the server says it. */
  total?: number;
}

export interface DownloadOptions {
  /** Abort when no data arrives for this long. @defaultValue 30000 */
  timeoutMs?: number;
  /** @defaultValue 5 */
  maxRedirects?: number;
  /** Extra attempts per URL after a dropped connection, each resuming the `.part` file. @defaultValue 3 */
  retries?: number;
  onProgress?: (p: DownloadProgress) => void;
  /** Replaces Node's http/https client (tests, proxies). */
  fetchImpl?: HttpGet;
  /** md5s that also verify the file: the same content recompressed (e.g. a Debian package's copy). */
  alsoAcceptMd5?: string[];
}

/**
 * A file: URL answered like an HTTP server would: 200 with the file, 206 for a `bytes=N-` range, 404 when
 * it is missing. Lets a mirror be a local directory (e.g. a copy of a Debian package's files).
 */
function fileGet(url: URL, headers: Record<string, string>): Promise<HttpResponse> {
  const filePath = fileURLToPath(url);
  let size: number;
  try {
    size = fs.statSync(filePath).size;
  } catch {
    return Promise.resolve({ status: 404, headers: {}, body: Readable.from([]) });
  }
  const start = Number(/^bytes=(\d+)-$/.exec(headers.range ?? '')?.[1] ?? 0);
  if (start >= size && start > 0) return Promise.resolve({ status: 416, headers: {}, body: Readable.from([]) });
  const body = fs.createReadStream(filePath, { start });
  const common = { 'content-length': String(size - start) };
  return Promise.resolve(
    start > 0
      ? { status: 206, headers: { ...common, 'content-range': `bytes ${start}-${size - 1}/${size}` }, body }
      : { status: 200, headers: common, body },
  );
}

/** GET with Node's http/https (or a local file: URL); no keep-alive so finished downloads leave no sockets open. */
export const nodeHttpGet: HttpGet = (url, headers, timeoutMs) => {
  const parsed = new URL(url);
  if (parsed.protocol === 'file:') return fileGet(parsed, headers);
  const client = parsed.protocol === 'https:' ? https : parsed.protocol === 'http:' ? http : undefined;
  if (!client) return Promise.reject(new Error(`unsupported URL protocol ${parsed.protocol} in ${url}`));
  return new Promise((resolve, reject) => {
    const req = client.get(parsed, { headers: { 'user-agent': 'mat-data', ...headers }, agent: false }, (res) =>
      resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res }),
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no data from ${parsed.host} for ${timeoutMs} ms`)));
    req.on('error', reject);
  });
};

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

async function getFollowingRedirects(
  url: string,
  headers: Record<string, string>,
  get: HttpGet,
  timeoutMs: number,
  maxRedirects: number,
): Promise<{ res: HttpResponse; url: string }> {
  let current = url;
  for (let hops = 0; ; hops++) {
    const res = await get(current, headers, timeoutMs);
    if (!REDIRECTS.has(res.status)) return { res, url: current };
    res.body.resume();
    const location = res.headers.location;
    if (!location) throw new HttpError(`${current}: HTTP ${res.status} redirect without a Location header`);
    if (hops >= maxRedirects) throw new HttpError(`${url}: more than ${maxRedirects} redirects`);
    current = new URL(location, current).href;
  }
}

/** A failure that retrying the same URL will not fix (HTTP error status, bad redirect, checksum). */
class HttpError extends Error {}

function fileSize(filePath: string): number {
  try {
    return fs.statSync(filePath).size;
  } catch {
    return 0;
  }
}

function removeIfPresent(filePath: string): void {
  fs.rmSync(filePath, { force: true });
}

/** `bytes 100-199/200` -> { start: 100, total: 200 } */
function parseContentRange(value: string | undefined): { start: number; total?: number } | undefined {
  const match = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(value ?? '');
  if (!match) return undefined;
  return { start: Number(match[1]), total: match[2] === '*' ? undefined : Number(match[2]) };
}

/**
 * One request: resumes from the end of `partPath` with a Range request when it exists. A 206 appends;
 * a 200 means the server ignored the Range, so the part is rewritten from the start. A dropped connection
 * throws after keeping what arrived, so the next attempt resumes.
 */
async function transferOnce(
  url: string,
  partPath: string,
  remote: RemoteFile,
  opts: Required<Omit<DownloadOptions, 'onProgress' | 'alsoAcceptMd5'>> & Pick<DownloadOptions, 'onProgress'>,
): Promise<{ appended: boolean }> {
  const offset = fileSize(partPath);
  const headers: Record<string, string> = offset > 0 ? { range: `bytes=${offset}-` } : {};
  const { res, url: finalUrl } = await getFollowingRedirects(url, headers, opts.fetchImpl, opts.timeoutMs, opts.maxRedirects);

  let start = 0;
  let total: number | undefined;
  const length = res.headers['content-length'] !== undefined ? Number(res.headers['content-length']) : undefined;
  if (res.status === 416 && offset > 0) {
    res.body.resume();
    return { appended: true }; // "range not satisfiable": the part is probably whole; the checksum decides
  } else if (res.status === 206 && offset > 0) {
    const range = parseContentRange(res.headers['content-range'] as string | undefined);
    if (!range || range.start !== offset) {
      res.body.destroy();
      removeIfPresent(partPath);
      throw new Error(`${finalUrl}: answered a Range request for byte ${offset} with "${res.headers['content-range']}"`);
    }
    start = offset;
    total = range.total;
  } else if (res.status === 200) {
    total = length; // a server that ignores Range sends the whole file: start over
  } else {
    res.body.resume();
    throw new HttpError(`${finalUrl}: HTTP ${res.status}`);
  }

  let received = start;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      received += chunk.length;
      opts.onProgress?.({ file: remote.file, url: finalUrl, received, total });
      done(null, chunk);
    },
  });
  // A dropped connection ends the copy rather than failing it: pipeline would destroy the file stream with
  // writes still pending, so bytes already received could miss the .part (and a resume would start short, or
  // race the dying stream). The byte count below then says the response was cut.
  let dropped: Error | undefined;
  const source = new PassThrough();
  res.body.once('error', (err: Error) => {
    dropped = err;
    source.end();
  });
  res.body.pipe(source);
  try {
    await pipeline(source, counter, fs.createWriteStream(partPath, { flags: start > 0 ? 'a' : 'w' }));
  } catch (err) {
    res.body.destroy(); // e.g. the disk is full: stop reading the response too
    throw err;
  }
  const expectedEnd = total ?? (length !== undefined ? start + length : undefined);
  if ((expectedEnd !== undefined && received < expectedEnd) || (dropped && expectedEnd === undefined)) {
    const why = dropped ? `${dropped.message}` : 'connection closed';
    throw new Error(`${finalUrl}: ${why} after ${received} of ${expectedEnd ?? 'an unknown number of'} bytes`);
  }
  return { appended: start > 0 };
}

/**
 * Downloads `remote.file` into `destPath`, trying each URL in order. Data goes to `<destPath>.part`
 * (resumed across attempts and across runs) and is renamed into place only once its checksum matches,
 * so `destPath` is never a partial or unverified file. A checksum mismatch deletes the part.
 */
export async function downloadVerified(
  urls: string[],
  destPath: string,
  remote: RemoteFile,
  options: DownloadOptions = {},
): Promise<{ url: string; resumed: boolean }> {
  const opts = {
    timeoutMs: options.timeoutMs ?? 30000,
    maxRedirects: options.maxRedirects ?? 5,
    retries: options.retries ?? 3,
    fetchImpl: options.fetchImpl ?? nodeHttpGet,
    onProgress: options.onProgress,
  };
  const alsoAccept = options.alsoAcceptMd5 ?? [];
  const partPath = `${destPath}.part`;
  const failures: string[] = [];
  for (const url of urls) {
    let restartedAfterMismatch = false;
    for (let attempt = 0; attempt <= opts.retries; attempt++) {
      let resumed: boolean;
      try {
        resumed = (await transferOnce(url, partPath, remote, opts)).appended;
      } catch (err) {
        const message = (err as Error).message;
        if (err instanceof HttpError || attempt === opts.retries) {
          failures.push(message.startsWith(url) ? message : `${url}: ${message}`);
          break;
        }
        continue; // dropped connection or timeout: resume from the part
      }
      const check = await verifyFile(partPath, remote);
      if (check.ok || (alsoAccept.length > 0 && alsoAccept.includes(await fileDigest(partPath, 'md5')))) {
        fs.renameSync(partPath, destPath);
        return { url, resumed };
      }
      removeIfPresent(partPath);
      // A stale part from an older or different file corrupts a resumed download: retry once from zero.
      if (resumed && !restartedAfterMismatch) {
        restartedAfterMismatch = true;
        attempt--;
        continue;
      }
      failures.push(`${describeMismatch(remote.file, check)} (downloaded from ${url}); the download was deleted`);
      break;
    }
  }
  throw new Error(`could not download ${remote.file}: ${failures.join('; ')}`);
}
