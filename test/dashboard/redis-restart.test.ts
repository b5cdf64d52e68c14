import { execFileSync, spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { Redis } from 'ioredis';
import { createDashboard, type Dashboard } from '@mat/dashboard';
import { FakeRun } from './fake-run';

const ACL_SCRIPT = path.resolve(__dirname, '../../scripts/redis-acl.sh');

// The dashboard outlives its Redis: a test instance on a free port is killed and started again; meanwhile
// the API says 503 and /healthz is unhealthy, and afterwards both recover without a restart.

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });

async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`gave up waiting for ${what}`);
}

describe('dashboard across a Redis restart', () => {
  let port: number;
  let dir: string;
  let server: ChildProcess | undefined;
  let dashboard: Dashboard | undefined;

  /** `user` = an ACL user the probe logs in as (with `password`), defined by `extra` args. */
  const startRedis = async (password?: string, extra: string[] = [], user?: string) => {
    const auth = password && !user ? ['--requirepass', password] : [];
    server = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--dir', dir, ...auth, ...extra],
      { stdio: 'ignore' },
    );
    await until('redis-server', async () => {
      const probe = new Redis(port, '127.0.0.1', {
        username: user,
        password,
        lazyConnect: true,
        retryStrategy: () => null,
        disconnectTimeout: 100,
      });
      probe.on('error', () => undefined);
      try {
        await probe.connect();
        return (await probe.ping()) === 'PONG' ? true : undefined;
      } finally {
        probe.disconnect();
      }
    });
  };
  const stopRedis = async () => {
    const s = server;
    server = undefined;
    if (!s || s.exitCode !== null) return;
    await new Promise((resolve) => {
      s.once('exit', resolve);
      s.kill('SIGKILL');
    });
  };

  beforeAll(async () => {
    port = await freePort();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mat-redis-restart-'));
  });
  afterAll(async () => {
    await dashboard?.close();
    await stopRedis();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('takes the AUTH password apart from the URL; a wrong one is a clear error that does not show it', async () => {
    await startRedis('s3cret-pw');
    try {
      const url = `redis://127.0.0.1:${port}`;
      const d = await createDashboard({ redisUrl: url, redisPassword: 's3cret-pw', port: 0 });
      expect((await fetch(`${d.url}/api/runs`)).status).toBe(200);
      await d.close();
      const attempt = createDashboard({ redisUrl: url, redisPassword: 'wrong-pw', port: 0 });
      await expect(attempt).rejects.toThrow(
        new RegExp(`^cannot reach Redis at redis://127\\.0\\.0\\.1:${port}/0 \\(password set\\): WRONGPASS`),
      );
      await attempt.catch((err: Error) => expect(err.message).not.toMatch(/wrong-pw|s3cret/));
      await expect(createDashboard({ redisUrl: url, port: 0 })).rejects.toThrow(/NOAUTH/);
    } finally {
      await stopRedis();
    }
  });

  it('logs in as a read-only ACL user named in the URL, with the password apart; writes nothing', async () => {
    // The read-only role of docs/multi-host.md, from the script that writes the ACL file.
    const secrets = path.join(dir, 'secrets');
    const aclFile = path.join(dir, 'users.acl');
    fs.writeFileSync(aclFile, execFileSync('bash', [ACL_SCRIPT, secrets]));
    const password = fs.readFileSync(path.join(secrets, 'dashboard.password'), 'utf8');
    await startRedis(password, ['--aclfile', aclFile], 'mat-dashboard');
    try {
      const url = `redis://mat-dashboard@127.0.0.1:${port}`;
      const d = await createDashboard({ redisUrl: url, redisPassword: password, port: 0 });
      try {
        expect((await fetch(`${d.url}/api/runs`)).status).toBe(200);
        const queues = await fetch(`${d.url}/queues/api/queues?activeQueue=mat-control&status=latest&page=1`);
        expect(queues.status).toBe(200);
        expect(JSON.stringify(await queues.json())).toContain('mat-control');
      } finally {
        await d.close();
      }
      // Nothing was written: no BullMQ queue metadata (the Queue objects skip it for a read-only board).
      const reader = new Redis(port, '127.0.0.1', { username: 'mat-dashboard', password });
      try {
        expect(await reader.exists('bull:mat-control:meta')).toBe(0);
        expect(await reader.set('mat:x', '1').catch((e: Error) => e.message)).toMatch(/NOPERM/);
      } finally {
        reader.disconnect();
      }
    } finally {
      await stopRedis();
    }
  });

  it('answers 503 while Redis is down and recovers when it is back', async () => {
    await startRedis();
    const url = `redis://127.0.0.1:${port}`;
    const writer = new Redis(url);
    const run = new FakeRun(writer, 'restart-run');
    await run.create(1);
    await run.addSteps(1, 1, 3);
    await writer.quit();
    dashboard = await createDashboard({ redisUrl: url, port: 0, log: () => undefined });
    const d = dashboard;
    expect((await fetch(`${d.url}/api/runs/restart-run`)).status).toBe(200);

    await stopRedis();
    const down = await fetch(`${d.url}/api/runs/restart-run`);
    expect(down.status).toBe(503);
    expect(((await down.json()) as { error: string }).error).toMatch(/could not read the run from Redis/);
    expect((await fetch(`${d.url}/healthz`)).status).toBe(503);

    // Started again without persistence: the dashboard reconnects by itself; the run is gone, so 404.
    await startRedis();
    await until('healthz 200', async () => ((await fetch(`${d.url}/healthz`)).ok ? true : undefined));
    expect((await fetch(`${d.url}/api/runs/restart-run`)).status).toBe(404);
    expect((await fetch(`${d.url}/api/runs`)).status).toBe(200);
  });
});
