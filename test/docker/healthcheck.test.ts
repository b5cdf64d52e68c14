import { spawnSync } from 'child_process';
import * as path from 'path';
import { Redis } from 'ioredis';
import { FakeRun, REDIS_URL, uniqueRunId } from '../dashboard/fake-run';

// docker/healthcheck.js as the containers run it, against the real Redis: a worker is healthy while its
// host has a fresh heartbeat in some run's `workers` hash.

const SCRIPT = path.join(__dirname, '..', '..', 'docker', 'healthcheck.js');

function check(mode: string, env: Record<string, string>) {
  const r = spawnSync(process.execPath, [SCRIPT, mode], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 30000,
  });
  return { code: r.status, out: r.stdout + r.stderr };
}

describe('docker/healthcheck.js', () => {
  let redis: Redis;
  let run: FakeRun;

  beforeAll(async () => {
    redis = new Redis(REDIS_URL);
    run = new FakeRun(redis, uniqueRunId('health'));
    await run.create(1);
  });
  afterAll(async () => {
    await run?.remove();
    redis?.disconnect();
  });

  it('redis mode: healthy when Redis answers, a clear reason without the password when not', () => {
    expect(check('redis', { MAT_REDIS_URL: REDIS_URL })).toEqual({
      code: 0,
      out: 'healthy: Redis answers\n',
    });
    const down = check('redis', { MAT_REDIS_URL: 'redis://:hunter2@127.0.0.1:1' });
    expect(down.code).toBe(1);
    expect(down.out).toMatch(/^unhealthy: cannot reach Redis: .*ECONNREFUSED/);
    expect(down.out).not.toContain('hunter2');
  });

  it('worker mode: healthy only with a fresh heartbeat from this host', async () => {
    // A host name of this test's own, so that other tests' workers on this machine do not count.
    const host = `test-host-${process.pid}-${Date.now().toString(36)}`;
    const env = { MAT_REDIS_URL: REDIS_URL, MAT_HEALTH_MAX_AGE_S: '30', MAT_HEALTH_HOST: host };
    const workerId = `w-${process.pid}`;
    const beat = (host: string, ageMs: number) =>
      redis.hset(
        run.keys.workers,
        workerId,
        JSON.stringify({
          workerId,
          host,
          pid: 1,
          peer: 0,
          lastHeartbeat: Date.now() - ageMs,
          status: 'training',
        }),
      );

    await beat(`${host}-other`, 0);
    let r = check('worker', env);
    expect(r.code).toBe(1);
    expect(r.out).toContain(`no heartbeat from host ${host} in the last 30 s`);

    await beat(host, 120000);
    expect(check('worker', env).code).toBe(1);

    await beat(host, 0);
    r = check('worker', env);
    expect(r).toEqual({ code: 0, out: `healthy: heartbeating in run ${run.id}\n` });
  });

  it('rejects an unknown mode', () => {
    expect(check('bogus', { MAT_REDIS_URL: REDIS_URL })).toEqual({
      code: 1,
      out: 'unhealthy: usage: healthcheck.js redis|worker\n',
    });
  });
});
