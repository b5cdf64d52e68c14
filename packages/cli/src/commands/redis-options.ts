import type { Argv } from 'yargs';
import { redisConnectionFromEnv, type RedisConnection } from '@mat/exchange';

/** Flags of every command that talks to Redis (coordinator, worker, status); secrets may come from env. */
export interface RedisArgs {
  'redis-url'?: string;
  'redis-password'?: string;
  'redis-tls'?: boolean;
  'redis-ca'?: string;
  'queue-prefix': string;
}

export function redisOptions<T>(y: Argv<T>) {
  return y
    .option('redis-url', {
      type: 'string',
      describe: 'redis:// or rediss:// URL (default: $MAT_REDIS_URL or redis://127.0.0.1:6379)',
    })
    .option('redis-password', {
      type: 'string',
      describe: 'Redis AUTH password, kept out of the URL (default: $MAT_REDIS_PASSWORD)',
    })
    .option('redis-tls', { type: 'boolean', describe: 'TLS even for redis:// (default: $MAT_REDIS_TLS=1)' })
    .option('redis-ca', {
      type: 'string',
      describe: "PEM file of the CA of Redis' certificate, implies TLS (default: $MAT_REDIS_CA)",
    })
    .option('queue-prefix', { type: 'string', default: 'bull', describe: 'BullMQ key prefix' });
}

export function redisConnection(a: RedisArgs): RedisConnection {
  return redisConnectionFromEnv({
    url: a['redis-url'],
    password: a['redis-password'],
    tls: a['redis-tls'],
    caFile: a['redis-ca'],
  });
}

/** One line per event on stderr, or JSON lines with --log-format json. */
export function lineLogger(format: 'text' | 'json', prefix: string) {
  return (message: string, fields: Record<string, unknown> = {}) => {
    const time = new Date().toISOString();
    process.stderr.write(
      format === 'json'
        ? JSON.stringify({ time, source: prefix, message, ...fields }) + '\n'
        : `${time.slice(11, 19)} [${prefix}] ${message}\n`,
    );
  };
}
