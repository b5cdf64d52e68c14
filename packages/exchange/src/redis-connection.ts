import * as fs from 'fs';
import { Redis, type RedisOptions } from 'ioredis';

/**
 * Redis connection settings shared by the coordinator, the workers and the Redis exchange:
 *   --redis-url redis://[user[:password]@]host:port[/db]   (rediss:// = TLS; user = a Redis ACL user)
 *   --redis-password / MAT_REDIS_PASSWORD                    (kept out of the URL, so out of `ps`)
 *   --redis-tls, --redis-ca <file>
 * Secrets never reach a log line or an error message: everything printed uses describeRedis().
 */
export interface RedisConnection {
  /** @defaultValue 'redis://127.0.0.1:6379' */
  url?: string;
  password?: string;
  tls?: boolean;
  /** PEM file of the CA that signed the server's certificate. */
  caFile?: string;
}

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/** The connection from options, falling back to MAT_REDIS_URL / MAT_REDIS_PASSWORD. */
export function redisConnectionFromEnv(opts: RedisConnection = {}): RedisConnection {
  return {
    url: opts.url ?? process.env.MAT_REDIS_URL ?? DEFAULT_REDIS_URL,
    password: opts.password ?? process.env.MAT_REDIS_PASSWORD ?? undefined,
    tls: opts.tls ?? process.env.MAT_REDIS_TLS === '1',
    caFile: opts.caFile ?? process.env.MAT_REDIS_CA ?? undefined,
  };
}

/** ioredis options (also what BullMQ is given, so that it makes its own connections the same way). */
export function redisOptions(conn: RedisConnection): RedisOptions {
  const text = conn.url ?? DEFAULT_REDIS_URL;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error('the Redis URL is not a valid URL (expected redis://[:password@]host:port[/db])');
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new Error(`the Redis URL must start with redis:// or rediss:// (got ${url.protocol}//)`);
  }
  const db = url.pathname.length > 1 ? Number(url.pathname.slice(1)) : 0;
  if (!Number.isInteger(db) || db < 0)
    throw new Error(`the Redis URL names an invalid database "${url.pathname}"`);
  const useTls = url.protocol === 'rediss:' || conn.tls || conn.caFile !== undefined;
  let ca: Buffer | undefined;
  if (conn.caFile) {
    try {
      ca = fs.readFileSync(conn.caFile);
    } catch (err) {
      throw new Error(`cannot read the Redis CA file ${conn.caFile}: ${(err as NodeJS.ErrnoException).code}`);
    }
  }
  return {
    host: url.hostname || '127.0.0.1',
    port: url.port ? Number(url.port) : 6379,
    db,
    username: url.username ? decodeURIComponent(url.username) : undefined,
    password: conn.password ?? (url.password ? decodeURIComponent(url.password) : undefined),
    tls: useTls ? (ca ? { ca } : {}) : undefined,
    // BullMQ's blocking connections require this; commands wait through a reconnect instead of failing.
    maxRetriesPerRequest: null,
    retryStrategy: (attempt) => Math.min(100 * attempt, 2000),
    disconnectTimeout: 300,
  };
}

/**
 * e.g. "rediss://mat-worker@10.0.0.1:6380/0 (password set)": safe to print. The ACL user name is shown (it
 * is no secret, and says which user a NOPERM error is about); the password never is.
 */
export function describeRedis(conn: RedisConnection): string {
  let o: RedisOptions;
  try {
    o = redisOptions(conn);
  } catch (err) {
    return `(${(err as Error).message})`;
  }
  const scheme = o.tls ? 'rediss' : 'redis';
  const user = o.username ? `${encodeURIComponent(o.username)}@` : '';
  const auth = o.password ? ' (password set)' : '';
  return `${scheme}://${user}${o.host}:${o.port}/${o.db ?? 0}${auth}`;
}

/**
 * Connects and waits until Redis answers, or throws "cannot reach Redis at <redacted>: <reason>" within
 * `timeoutMs`. Once connected, the client reconnects by itself for as long as it lives (Redis restarts).
 */
export async function connectRedis(
  conn: RedisConnection,
  opts: {
    timeoutMs?: number;
    log?: (line: string) => void;
    name?: string;
    /** How often a command is retried through reconnects before it fails; null (the default) = it waits
     * for Redis to come back, as BullMQ's blocking connections require. A reader that must answer while
     * Redis is down (the dashboard) sets a number. */
    maxRetriesPerRequest?: number | null;
  } = {},
): Promise<Redis> {
  const safe = describeRedis(conn);
  const redis = new Redis({
    ...redisOptions(conn),
    lazyConnect: true,
    connectionName: opts.name,
    ...(opts.maxRetriesPerRequest !== undefined ? { maxRetriesPerRequest: opts.maxRetriesPerRequest } : {}),
  });
  let lastError = 'no answer';
  let reported = false;
  redis.on('error', (err: Error) => {
    lastError = redactSecret(err.message, conn);
    if (!reported) opts.log?.(`redis ${safe}: ${lastError} (reconnecting)`);
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
      redis.connect().then(() => redis.ping()),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } catch (err) {
    redis.disconnect();
    const reason = lastError !== 'no answer' ? lastError : redactSecret((err as Error).message, conn);
    throw new Error(`cannot reach Redis at ${safe}: ${reason}`);
  } finally {
    clearTimeout(timer);
  }
  return redis;
}

function redactSecret(text: string, conn: RedisConnection): string {
  const secrets = [conn.password, safeUrlPassword(conn.url)].filter((s): s is string => !!s);
  return secrets.reduce((t, s) => t.split(s).join('***'), text);
}

function safeUrlPassword(url?: string): string | undefined {
  try {
    return url ? decodeURIComponent(new URL(url).password) || undefined : undefined;
  } catch {
    return undefined;
  }
}
