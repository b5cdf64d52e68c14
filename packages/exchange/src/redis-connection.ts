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
  /**
   * A connection on which a command has waited this long without a byte from Redis is dead: it is dropped
   * and made again, and its commands are sent again. @defaultValue DEFAULT_SOCKET_TIMEOUT_MS
   */
  socketTimeoutMs?: number;
}

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/**
 * Why a dead-connection timeout at all: a Redis that vanishes without closing its connections (a container
 * stopped or restarted while its network is torn down, a host that is cut off) leaves each client's socket
 * open and silent. A client waiting for a reply then waits for ever with no error — a blocked receive of
 * the exchange, a coordinator tick — and the run hangs with every lease alive. 30 s is well above the
 * longest blocking command (BullMQ blocks for at most 10 s, the exchange for 0.25 s) and a busy Redis.
 */
export const DEFAULT_SOCKET_TIMEOUT_MS = 30_000;

/** The connection from options, falling back to MAT_REDIS_URL / MAT_REDIS_PASSWORD. */
export function redisConnectionFromEnv(opts: RedisConnection = {}): RedisConnection {
  return {
    url: opts.url ?? process.env.MAT_REDIS_URL ?? DEFAULT_REDIS_URL,
    password: opts.password ?? process.env.MAT_REDIS_PASSWORD ?? undefined,
    tls: opts.tls ?? process.env.MAT_REDIS_TLS === '1',
    caFile: opts.caFile ?? process.env.MAT_REDIS_CA ?? undefined,
    socketTimeoutMs: opts.socketTimeoutMs ?? socketTimeoutFromEnv(),
  };
}

function socketTimeoutFromEnv(): number | undefined {
  const text = process.env.MAT_REDIS_SOCKET_TIMEOUT_MS;
  if (text === undefined || text === '') return undefined;
  const ms = Number(text);
  // Below BullMQ's longest block (10 s) every idle queue connection would be dropped and made again.
  if (!Number.isInteger(ms) || ms < 15_000)
    throw new Error(
      `MAT_REDIS_SOCKET_TIMEOUT_MS must be a whole number of milliseconds >= 15000 (got "${text}")`,
    );
  return ms;
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
    socketTimeout: conn.socketTimeoutMs ?? DEFAULT_SOCKET_TIMEOUT_MS,
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
  const outage = redisOutage(conn, opts.log);
  let connected = false;
  let lastError = 'no answer';
  redis.on('error', (err: Error) => {
    lastError = redactSecret(err.message, conn);
    // Before the first connection the error is thrown below; afterwards, one line per outage.
    if (connected) outage.lost(lastError);
  });
  redis.on('ready', () => {
    connected = true;
    outage.back();
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

/**
 * A second connection like `redis` (for blocking commands), whose errors go where `redis`'s go (connectRedis
 * reports them once per outage): a client without an error listener prints a stack trace per retry.
 */
export function duplicateRedis(redis: Redis, name: string): Redis {
  const copy = redis.duplicate({ connectionName: name });
  // The commands on the copy fail with the error too; the event only feeds the outage report.
  copy.on('error', (err: Error) => {
    if (redis.listenerCount('error') > 0) redis.emit('error', err);
  });
  return copy;
}

/**
 * A Redis outage as the log tells it: one line when the connection is lost, one when it is back — for every
 * client of the process (the run store's, each BullMQ queue's and worker's), however many times each one
 * retries meanwhile. One per Redis server (as described by describeRedis) and process.
 */
export class RedisOutage {
  private since: number | undefined;
  private errors = 0;
  private logs = new Set<(line: string) => void>();

  constructor(
    private readonly safe: string,
    private readonly now: () => number = Date.now,
  ) {}

  /** Where the two lines go (several loggers of one process: each gets them once). */
  addLog(log: ((line: string) => void) | undefined): this {
    if (log) this.logs.add(log);
    return this;
  }

  get down(): boolean {
    return this.since !== undefined;
  }

  /** A client's connection error: the first of an outage is logged, the others only counted. */
  lost(reason: string): void {
    this.errors++;
    if (this.since !== undefined) return;
    this.since = this.now();
    this.emit(`redis ${this.safe}: connection lost (${reason}); retrying quietly until it is back`);
  }

  /** A client is connected (again): ends the outage, if there was one. */
  back(): void {
    if (this.since === undefined) return;
    const seconds = ((this.now() - this.since) / 1000).toFixed(1);
    this.emit(`redis ${this.safe}: connected again after ${seconds} s (${this.errors} failed attempts)`);
    this.since = undefined;
    this.errors = 0;
  }

  /**
   * The 'error' listener of a BullMQ queue or worker on this server: connection errors count towards the
   * outage, anything else is logged as it is, named by `source`.
   */
  listener(source: string, log: (line: string) => void): (err: Error) => void {
    return (err: Error) => {
      if (isConnectionError(err)) this.lost(err.message);
      else log(`${source}: ${err.message}`);
    };
  }

  private emit(line: string): void {
    for (const log of this.logs) log(line);
  }
}

const outages = new Map<string, RedisOutage>();

/** The process's outage record of this Redis server (one per server, shared by all its clients). */
export function redisOutage(conn: RedisConnection, log?: (line: string) => void): RedisOutage {
  const safe = describeRedis(conn);
  let outage = outages.get(safe);
  if (!outage) outages.set(safe, (outage = new RedisOutage(safe)));
  return outage.addLog(log);
}

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

/** An error of the connection itself (the server is gone or unreachable), not of a command. */
export function isConnectionError(err: Error): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  if (code && CONNECTION_CODES.has(code)) return true;
  return /^(connect )?(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE)\b|Connection is closed|Socket closed unexpectedly/.test(
    err.message,
  );
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

/**
 * An error message, with what to do added when Redis refused a command for the ACL user's lack of rights
 * ("NOPERM …", or a script's "The user executing the script can't run this command …"): the user is
 * probably the read-only one, or the ACL file is not the one of scripts/redis-acl.sh.
 */
export function explainRedisError(message: string): string {
  if (!/\bNOPERM\b|user executing the script can't run this command/.test(message)) return message;
  return (
    `${message} (Redis refused this for the ACL user: a read-only user such as mat-dashboard cannot ` +
    'write, e.g. mat status --stop; use the role that may, such as mat-coordinator; the roles and their ' +
    'rights: docs/multi-host.md)'
  );
}
