import { Redis } from 'ioredis';

/**
 * The dashboard's Redis client. URLs may carry a password (`redis://:pass@host:6379`, `rediss://` for
 * TLS); only the redacted form ever reaches a message or a log line.
 */

export function redactRedisUrl(text: string): string {
  try {
    const url = new URL(text);
    if (url.password) url.password = '***';
    if (url.username && url.username !== 'default') url.username = '***';
    return url.toString();
  } catch {
    return '(invalid Redis URL)';
  }
}

/** Connects, or fails with an error naming the (redacted) URL and the reason within `timeoutMs`. */
export async function connectRedis(
  urlText: string,
  opts: { timeoutMs?: number; log?: (line: string) => void } = {},
): Promise<Redis> {
  let url: URL;
  try {
    url = new URL(urlText);
  } catch {
    throw new Error('the Redis URL is not a valid URL (expected redis://[:password@]host:port[/db])');
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:')
    throw new Error(`the Redis URL must start with redis:// or rediss:// (got ${url.protocol}//)`);
  const safe = redactRedisUrl(urlText);
  const redis = new Redis(urlText, {
    lazyConnect: true,
    maxRetriesPerRequest: 2,
    retryStrategy: (attempt) => Math.min(attempt * 250, 3000),
    // How long a closing socket may linger (ioredis default 2 s): keeps a failed start from holding the process.
    disconnectTimeout: 300,
  });
  // Report the first error after each healthy period, not every reconnect attempt.
  let reported = false;
  let lastError = 'timeout';
  redis.on('error', (err: Error) => {
    lastError = err.message;
    if (!reported) opts.log?.(`redis ${safe}: ${err.message} (reconnecting)`);
    reported = true;
  });
  redis.on('ready', () => {
    if (reported) opts.log?.(`redis ${safe}: connected again`);
    reported = false;
  });
  const timeoutMs = opts.timeoutMs ?? 5000;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      redis.connect(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('timeout')), timeoutMs);
      }),
    ]);
  } catch (err) {
    redis.disconnect();
    const reason = lastError !== 'timeout' ? lastError : (err as Error).message;
    throw new Error(`cannot reach Redis at ${safe}: ${reason}`);
  } finally {
    clearTimeout(timer);
  }
  return redis;
}
