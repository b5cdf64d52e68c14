import { createHmac } from 'crypto';
import type { Redis } from 'ioredis';
import { parseRunConfig } from '@mat/core';
import {
  decodeRunState,
  exchangeSecretFingerprint,
  NO_SECRET_FINGERPRINT,
  RunStore,
  type RunState,
} from '@mat/exchange';
import { RedisWorker } from '@mat/worker';
import { checkExchangeSecret } from '../../packages/worker/src/redis/join';
import { deleteRun, newRedis, REDIS_URL, uniqueRunId } from '../exchange/redis-helpers';

const SECRET_A = 'a'.repeat(16) + '-the-run-secret';
const SECRET_B = 'b'.repeat(16) + '-another-secret';

describe('exchange secret fingerprints', () => {
  it('tell secrets apart without containing them; a worker without a secret has "none"', () => {
    const a = exchangeSecretFingerprint(SECRET_A);
    expect(a).toMatch(/^[0-9a-f]{32}$/);
    expect(exchangeSecretFingerprint(SECRET_A)).toBe(a);
    expect(exchangeSecretFingerprint(SECRET_B)).not.toBe(a);
    // Not a digest of the secret alone (which a dictionary of secrets would reverse without the key).
    expect(a).not.toBe(createHmac('sha256', '').update(SECRET_A).digest('hex').slice(0, 32));
    expect(a).not.toContain(SECRET_A);
    expect(exchangeSecretFingerprint(undefined)).toBe(NO_SECRET_FINGERPRINT);
    expect(exchangeSecretFingerprint('')).toBe(NO_SECRET_FINGERPRINT);
  });

  it('the run state refuses a fingerprint that is not one', () => {
    const state = { status: 'running', generation: '0', resumeStep: '0', lastStep: '4', totalSteps: '4' };
    const base = { ...state, step: '0', peers: '2', runDir: '/r', createdAt: '1', updatedAt: '1' };
    expect(decodeRunState({ ...base, secretFingerprint: 'none' }, 's')?.secretFingerprint).toBe('none');
    expect(() => decodeRunState({ ...base, secretFingerprint: SECRET_A }, 's')).toThrow(
      "secretFingerprint: 32 hex digits or 'none'",
    );
  });
});

// Needs Redis on 127.0.0.1:6379.
describe('a worker whose exchange secret is not that of the run', () => {
  let redis: Redis;
  let runId: string;
  let store: RunStore;
  const saved = process.env.MAT_EXCHANGE_SECRET;

  beforeEach(async () => {
    redis = newRedis();
    runId = uniqueRunId('secret');
    store = new RunStore(redis, runId);
    const config = parseRunConfig({ name: runId, peers: 2, data: { trainSubset: 64, testSubset: 10 } });
    const state: RunState = {
      status: 'waiting',
      generation: 0,
      resumeStep: 0,
      lastStep: 4,
      totalSteps: 4,
      step: 0,
      peers: 2,
      checkpointStep: 0,
      runDir: `/tmp/${runId}`,
      createdAt: 1,
      updatedAt: 1,
    };
    await store.create(config, state);
  });
  afterEach(async () => {
    if (saved === undefined) delete process.env.MAT_EXCHANGE_SECRET;
    else process.env.MAT_EXCHANGE_SECRET = saved;
    await deleteRun(redis, runId);
    redis.disconnect();
  });

  it('the first worker sets the run fingerprint; the same secret joins, another one is an error naming both', async () => {
    const a = exchangeSecretFingerprint(SECRET_A);
    const b = exchangeSecretFingerprint(SECRET_B);
    await checkExchangeSecret(store, SECRET_A);
    expect((await store.readState())?.secretFingerprint).toBe(a);
    await checkExchangeSecret(store, SECRET_A);
    const prefix = `MAT_EXCHANGE_SECRET mismatch with the workers of run ${runId}`;
    await expect(checkExchangeSecret(store, SECRET_B)).rejects.toThrow(
      `${prefix}: this worker's secret has fingerprint ${b}, theirs ${a}; every worker of a run needs the same MAT_EXCHANGE_SECRET, or none`,
    );
    await expect(checkExchangeSecret(store, undefined)).rejects.toThrow(
      `${prefix}: they have one (fingerprint ${a}) and this worker has none`,
    );
    // The run keeps the first fingerprint.
    expect((await store.readState())?.secretFingerprint).toBe(a);
  });

  it('a run whose first worker has no secret refuses a worker with one', async () => {
    await checkExchangeSecret(store, undefined);
    await expect(checkExchangeSecret(store, SECRET_A)).rejects.toThrow(
      `they have none and this worker has one (fingerprint ${exchangeSecretFingerprint(SECRET_A)})`,
    );
  });

  it('no fingerprint is written for a run without a state', async () => {
    const absent = new RunStore(redis, uniqueRunId('secret-absent'));
    await checkExchangeSecret(absent, SECRET_A);
    expect(await redis.exists(absent.keys.state)).toBe(0);
  });

  it('RedisWorker.join fails with the mismatch before it claims anything', async () => {
    await checkExchangeSecret(store, SECRET_A);
    process.env.MAT_EXCHANGE_SECRET = SECRET_B;
    await expect(
      RedisWorker.join({ conn: { url: REDIS_URL }, runId, joinTimeoutMs: 5000, pollMs: 20 }),
    ).rejects.toThrow(`MAT_EXCHANGE_SECRET mismatch with the workers of run ${runId}`);
    expect(await store.readSlots()).toEqual(new Map());
    expect(await store.readWorkers()).toEqual([]);
  });
});
