import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
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

/** Whether a listener can bind `port` on 127.0.0.1 right now. */
function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * A free TCP port on 127.0.0.1, below the kernel's ephemeral range (32768-60999 on Linux), where the system
 * never hands out a port by itself. A test that stops a server and starts it again on its port (a Redis
 * outage) must get that port back: one from the ephemeral range could meanwhile go to another test's
 * listener asking for port 0, or to an outgoing connection (seen: a restarted test Redis found another test's
 * server answering on its port, and the run waited for the wrong Redis until the test's timeout).
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    if (await canListen(port)) return port;
  }
  throw new Error('freePort: no free port in 20000-31999 after 200 tries');
}

/**
 * Starts a throwaway redis-server (no persistence) on `port`; returns when it answers. The server that
 * answers must be the one started here (its process id, from the pid file it was told to write): another
 * server on the port is an error naming it, never a test going on against the wrong Redis.
 */
export async function startRedisServer(port: number): Promise<void> {
  const pidFile = `/tmp/mat-test-redis-${port}-${process.pid}-${Date.now().toString(36)}.pid`;
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
    '--pidfile',
    pidFile,
    '--dir',
    '/tmp',
    '--logfile',
    `/tmp/mat-test-redis-${port}.log`,
  ]);
  try {
    for (let i = 0; i < 100; i++) {
      const info = spawnSync('redis-cli', ['-p', String(port), 'info', 'server']).stdout?.toString() ?? '';
      const answering = /process_id:(\d+)/.exec(info)?.[1];
      const ours = fs.existsSync(pidFile) ? fs.readFileSync(pidFile, 'utf8').trim() : undefined;
      if (answering !== undefined && ours !== undefined) {
        if (answering === ours) return;
        throw new Error(
          `redis-server on port ${port}: another server (pid ${answering}) answers there, not ours (pid ${ours})`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    fs.rmSync(pidFile, { force: true });
  }
  throw new Error(
    `redis-server on port ${port} did not start, or another server holds the port (see /tmp/mat-test-redis-${port}.log)`,
  );
}

export function stopRedisServer(port: number): void {
  spawnSync('redis-cli', ['-p', String(port), 'shutdown', 'nosave']);
}
