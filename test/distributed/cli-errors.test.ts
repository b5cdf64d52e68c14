import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseRunConfig } from '@mat/core';
import { exchangeSecretFingerprint, RUNS_INDEX_KEY, RunStore, runKeys } from '@mat/exchange';
import {
  deleteRun,
  freePort,
  newRedis,
  REDIS_URL,
  startRedisServer,
  stopRedisServer,
  uniqueRunId,
} from '../exchange/redis-helpers';
import { assertBuilt, runMat, tinyConfig, writeConfig } from './helpers';

describe('mat coordinator / worker / status: bad input is one clear error', () => {
  let dir: string;
  beforeAll(() => {
    assertBuilt();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mat-cli-dist-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('an unreachable Redis names the address and never the password', async () => {
    const port = await freePort();
    const url = `redis://:topsecret@127.0.0.1:${port}`;
    const config = writeConfig(tinyConfig(dir, 'unreachable', 2));
    for (const args of [
      ['coordinator', '--config', config, '--redis-url', url],
      ['worker', '--run', 'x', '--redis-url', url],
      ['status', '--redis-url', url],
    ]) {
      const { code, output } = await runMat(args);
      expect(code).toBe(1);
      expect(output).toMatch(
        new RegExp(`error: cannot reach Redis at redis://127.0.0.1:${port}/0 \\(password set\\)`),
      );
      expect(output).not.toContain('topsecret');
    }
    const env = { MAT_REDIS_URL: `redis://127.0.0.1:${port}`, MAT_REDIS_PASSWORD: 'envsecret' };
    const { output } = await runMat(['status'], env);
    expect(output).toMatch(/cannot reach Redis/);
    expect(output).not.toContain('envsecret');
  });

  it('a bad config, a bad Redis URL or a bad worker flag is an error naming the problem', async () => {
    const bad = path.join(dir, 'bad.json');
    fs.writeFileSync(bad, JSON.stringify({ peers: 0, optim: { lr: -1 } }));
    let r = await runMat(['coordinator', '--config', bad, '--redis-url', REDIS_URL]);
    expect(r.code).toBe(1);
    expect(r.output).toMatch(/peers: .*\n.*optim.lr/s);
    r = await runMat(['coordinator', '--preset', 'quick', '--redis-url', 'http://127.0.0.1:6379']);
    expect(r.output).toMatch(/error: the Redis URL must start with redis:\/\/ or rediss:\/\//);
    r = await runMat(['worker', '--gpu', '-1', '--redis-url', REDIS_URL]);
    expect(r.output).toMatch(/error: --gpu must be a GPU index/);
    for (const [args, env, message] of [
      [['--gpu', 'fast'], {}, /error: --gpu must be a GPU index \(0, 1, …\) or auto \(got "fast"\)/],
      [['--gpu', '0.5'], {}, /error: --gpu must be a GPU index .*\(got "0\.5"\)/],
      [[], { MAT_GPU: 'any' }, /error: MAT_GPU must be a GPU index .*\(got "any"\)/],
      [
        ['--gpu', 'auto', '--gpu-count', '0'],
        {},
        /error: --gpu-count must be an integer >= 1 and <= 1024 \(got "0"\)/,
      ],
      [['--gpu', '1', '--gpu-count', '2'], {}, /error: --gpu-pool and --gpu-count go with --gpu auto/],
      [['--gpu', 'auto', '--gpu-pool', 'a/b'], {}, /error: the GPU pool name .*\(got "a\/b"\)/],
    ] as Array<[string[], Record<string, string>, RegExp]>) {
      r = await runMat(['worker', ...args, '--redis-url', REDIS_URL], env);
      expect({ code: r.code, output: r.output }).toEqual({ code: 1, output: expect.stringMatching(message) });
    }
    r = await runMat([
      'worker',
      '--run',
      uniqueRunId('absent'),
      '--join-timeout',
      '0.3',
      '--redis-url',
      REDIS_URL,
    ]);
    expect(r.code).toBe(1);
    expect(r.output).toMatch(
      /error: run "test-absent-.*" does not exist in Redis \(start it with mat coordinator\)/,
    );
    r = await runMat(['status', uniqueRunId('absent'), '--redis-url', REDIS_URL]);
    expect(r.output).toMatch(/error: run "test-absent-.*" is not in Redis/);
  });

  it('a run id that is not one (empty, braces, a path) is an error naming the flag, before Redis is touched', async () => {
    const config = writeConfig(tinyConfig(dir, 'bad-ids', 2));
    const rule =
      'is not a valid run name: use 1 to 128 letters, digits, ".", "_" or "-", starting with a letter or a digit';
    for (const [args, message] of [
      [['coordinator', '--config', config, '--run-id', ''], `error: --run-id "" ${rule}`],
      [['coordinator', '--config', config, '--run-id', 'a{b}'], `error: --run-id "a{b}" ${rule}`],
      [['worker', '--run', '../x'], `error: --run "../x" ${rule}`],
      [['status', '{r}', '--stop'], `error: the run id "{r}" ${rule}`],
    ] as Array<[string[], string]>) {
      // An unreachable Redis: the id is refused before any connection is tried.
      const r = await runMat([...args, '--redis-url', `redis://127.0.0.1:${await freePort()}`]);
      expect({ code: r.code, output: r.output }).toEqual({
        code: 1,
        output: expect.stringContaining(message),
      });
      expect(r.output).not.toMatch(/cannot reach Redis/);
    }
  });

  it('mat status lists a run whose id or state breaks its contract as malformed, and the other runs as they are', async () => {
    // A Redis of its own: the shared one must not hold a malformed run for other tests' listings.
    const port = await freePort();
    await startRedisServer(port);
    const url = `redis://127.0.0.1:${port}`;
    const redis = newRedis(url);
    try {
      await new RunStore(redis, 'good').create(parseRunConfig({ name: 'good', peers: 2 }), {
        status: 'running',
        generation: 0,
        resumeStep: 0,
        lastStep: 4,
        totalSteps: 4,
        step: 2,
        peers: 2,
        checkpointStep: 0,
        runDir: path.join(dir, 'good'),
        createdAt: 1,
        updatedAt: 1,
      });
      await redis.hset(runKeys('bad-state').state, { status: 'running', step: 'x' });
      await redis.sadd(RUNS_INDEX_KEY, 'bad-state', 'bad{id}');
      const json = await runMat(['status', '--json', '--redis-url', url]);
      expect(json.code).toBe(0);
      expect(JSON.parse(json.output).runs).toEqual([
        {
          id: 'bad-state',
          status: 'malformed',
          error: expect.stringMatching(/^malformed state of run bad-state .*step: /),
        },
        { id: 'bad{id}', status: 'malformed', error: 'not a valid run id' },
        { id: 'good', status: 'running', step: 2, lastStep: 4 },
      ]);
      const text = await runMat(['status', '--redis-url', url]);
      expect(text.code).toBe(0);
      expect(text.output).toMatch(
        /^bad-state {2}malformed: malformed state of run bad-state .*\nbad\{id\} {2}malformed: not a valid run id\ngood {2}running {2}step 2\/4\n$/s,
      );
    } finally {
      redis.disconnect();
      stopRedisServer(port);
    }
  });

  it('a worker whose MAT_EXCHANGE_SECRET is not that of the run exits naming the mismatch, never the secrets', async () => {
    const redis = newRedis();
    const runId = uniqueRunId('secret-mismatch');
    const theirs = 'the-run-secret-0123456789';
    const mine = 'another-secret-0123456789';
    try {
      const store = new RunStore(redis, runId);
      await store.create(parseRunConfig({ name: runId, peers: 2 }), {
        status: 'running',
        generation: 0,
        resumeStep: 0,
        lastStep: 4,
        totalSteps: 4,
        step: 0,
        peers: 2,
        checkpointStep: 0,
        runDir: path.join(dir, runId),
        createdAt: 1,
        updatedAt: 1,
      });
      // The run's first worker joined with `theirs`.
      await store.agreeSecretFingerprint(exchangeSecretFingerprint(theirs));
      const prefix = `error: MAT_EXCHANGE_SECRET mismatch with the workers of run ${runId}`;
      for (const [secret, message] of [
        [
          mine,
          `${prefix}: this worker's secret has fingerprint ${exchangeSecretFingerprint(mine)}, theirs ${exchangeSecretFingerprint(theirs)}`,
        ],
        [
          '',
          `${prefix}: they have one (fingerprint ${exchangeSecretFingerprint(theirs)}) and this worker has none`,
        ],
      ]) {
        const r = await runMat(['worker', '--run', runId, '--redis-url', REDIS_URL], {
          MAT_EXCHANGE_SECRET: secret,
        });
        expect({ code: r.code, output: r.output }).toEqual({
          code: 1,
          output: expect.stringContaining(message),
        });
        expect(r.output).not.toContain(theirs);
        if (secret) expect(r.output).not.toContain(secret);
      }
      expect(await store.readWorkers()).toEqual([]);
    } finally {
      await deleteRun(redis, runId);
      redis.disconnect();
    }
  });
});
