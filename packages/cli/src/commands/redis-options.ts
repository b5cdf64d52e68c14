import * as fs from 'fs';
import type { Argv } from 'yargs';
import { redisConnectionFromEnv, type RedisConnection } from '@mat/exchange';

/** Flags of every command that talks to Redis (coordinator, worker, status); secrets may come from env. */
export interface RedisArgs {
  'redis-url'?: string;
  'redis-password'?: string;
  'redis-password-file'?: string;
  'redis-tls'?: boolean;
  'redis-ca'?: string;
  'queue-prefix': string;
}

export function redisOptions<T>(y: Argv<T>) {
  return (
    y
      .option('redis-url', {
        type: 'string',
        describe: 'redis:// or rediss:// URL (default: $MAT_REDIS_URL or redis://127.0.0.1:6379)',
      })
      .option('redis-password-file', {
        type: 'string',
        describe:
          'File holding the Redis AUTH password (default: $MAT_REDIS_PASSWORD); never give it on the command line',
      })
      // Refused with an explanation (see redisPassword): a value on the command line shows in `ps`.
      .option('redis-password', { type: 'string', hidden: true })
      .option('redis-tls', { type: 'boolean', describe: 'TLS even for redis:// (default: $MAT_REDIS_TLS=1)' })
      .option('redis-ca', {
        type: 'string',
        describe: "PEM file of the CA of Redis' certificate, implies TLS (default: $MAT_REDIS_CA)",
      })
      .option('queue-prefix', { type: 'string', default: 'bull', describe: 'BullMQ key prefix' })
  );
}

/**
 * The Redis password: from --redis-password-file, else $MAT_REDIS_PASSWORD (redisConnectionFromEnv), never
 * from the command line — every user of the machine sees a process's arguments (`ps`, /proc/<pid>/cmdline),
 * and they stay in the shell's history. Child processes get it by environment too.
 */
export function redisPassword(
  a: Pick<RedisArgs, 'redis-password' | 'redis-password-file'>,
): string | undefined {
  if (a['redis-password'] !== undefined)
    throw new Error(
      '--redis-password would show the password to every user of this machine (ps, /proc) and keep it in ' +
        'the shell history: set MAT_REDIS_PASSWORD or use --redis-password-file FILE',
    );
  const file = a['redis-password-file'];
  if (file === undefined) return undefined;
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(
      `cannot read --redis-password-file ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`,
    );
  }
  // One line; the newline an editor or `echo` adds is not part of the password.
  const password = text.replace(/\r?\n$/, '');
  if (password === '' || /[\r\n]/.test(password))
    throw new Error(`--redis-password-file ${file} must hold the password on one line`);
  return password;
}

export function redisConnection(a: RedisArgs): RedisConnection {
  return redisConnectionFromEnv({
    url: a['redis-url'],
    password: redisPassword(a),
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
