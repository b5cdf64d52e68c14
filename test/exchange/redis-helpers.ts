import { execFileSync, spawnSync } from 'child_process';
import * as net from 'net';
import { Redis } from 'ioredis';
import { RUNS_INDEX_KEY } from '@mat/exchange';

/** The shared test Redis (scripts/ensure-redis.sh starts it); tests use unique run ids so they never collide. */
export const REDIS_URL = process.env.MAT_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export function uniqueRunId(label: string): string {
  return `test-${label}-${process.pid}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`;
}

export function newRedis(url = REDIS_URL): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, lazyConnect: false });
}

/** Deletes every key of a run (and its queue keys under `queuePrefix`, if given). */
export async function deleteRun(redis: Redis, runId: string, queuePrefix?: string): Promise<void> {
  const patterns = [`mat:{${runId}}:*`, ...(queuePrefix ? [`${queuePrefix}:*`] : [])];
  for (const pattern of patterns) {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  }
  await redis.srem(RUNS_INDEX_KEY, runId);
}

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/** Starts a throwaway redis-server (no persistence) on `port`; returns when it answers. */
export async function startRedisServer(port: number): Promise<void> {
  execFileSync('redis-server', [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--daemonize',
    'yes',
    '--dir',
    '/tmp',
    '--logfile',
    `/tmp/mat-test-redis-${port}.log`,
  ]);
  for (let i = 0; i < 100; i++) {
    if (
      spawnSync('redis-cli', ['-p', String(port), 'ping'])
        .stdout?.toString()
        .trim() === 'PONG'
    )
      return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`redis-server on port ${port} did not start`);
}

export function stopRedisServer(port: number): void {
  spawnSync('redis-cli', ['-p', String(port), 'shutdown', 'nosave']);
}
