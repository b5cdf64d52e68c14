import * as fs from 'fs';
import { Redis } from 'ioredis';

/**
 * The dashboard's Redis client, configured like the coordinator's and the workers':
 *   URL        redis://[user[:password]@]host:port[/db], rediss:// for TLS
 *   password   kept out of the URL (and so out of `ps`): --redis-password / MAT_REDIS_PASSWORD
 *   TLS        rediss://, or tls: true; caFile = PEM of the CA that signed the server's certificate
 * Only the redacted URL ever reaches a message or a log line.
 */

export interface RedisSettings {
  url: string;
  password?: string;
  tls?: boolean;
  caFile?: string;
}

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
  settings: RedisSettings,
  opts: { timeoutMs?: number; log?: (line: string) => void } = {},
): Promise<Redis> {
  let url: URL;
  try {
    url = new URL(settings.url);
  } catch {
    throw new Error('the Redis URL is not a valid URL (expected redis://[:password@]host:port[/db])');
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:')
    throw new Error(`the Redis URL must start with redis:// or rediss:// (got ${url.protocol}//)`);
  let ca: Buffer | undefined;
  if (settings.caFile) {
    try {
      ca = fs.readFileSync(settings.caFile);
    } catch (err) {
      throw new Error(
        `cannot read the Redis CA file ${settings.caFile}: ${(err as NodeJS.ErrnoException).code}`,
      );
    }
  }
  const useTls = url.protocol === 'rediss:' || settings.tls === true || ca !== undefined;
  const safe = redactRedisUrl(settings.url) + (settings.password ? ' (password set)' : '');
  const redis = new Redis(settings.url, {
    lazyConnect: true,
    ...(settings.password !== undefined ? { password: settings.password } : {}),
    ...(useTls ? { tls: ca ? { ca } : {} } : {}),
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
