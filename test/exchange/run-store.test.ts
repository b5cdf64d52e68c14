import type { Redis } from 'ioredis';
import { RunStore, RUNS_INDEX_KEY, type RunState, type WorkerRecord } from '@mat/exchange';
import { runState } from '../helpers/run-state';
import {
  deleteRun,
  freePort,
  newRedis,
  startRedisServer,
  stopRedisServer,
  uniqueRunId,
} from './redis-helpers';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Needs Redis on 127.0.0.1:6379 (scripts/ensure-redis.sh).
describe('RunStore', () => {
  let redis: Redis;
  let store: RunStore;
  const worker = (id: string): WorkerRecord => ({
    workerId: id,
    host: 'h',
    pid: 1,
    peer: null,
    backend: 'cpu',
    status: 'idle',
  });

  beforeEach(() => {
    redis = newRedis();
    store = new RunStore(redis, uniqueRunId('store'));
  });
  afterEach(async () => {
    await deleteRun(redis, store.runId);
    redis.disconnect();
  });

  it('creates a run and reads its state back with numbers as numbers', async () => {
    const state: RunState = {
      status: 'waiting',
      generation: 2,
      resumeStep: 8,
      lastStep: 20,
      totalSteps: 40,
      step: 8,
      peers: 3,
      checkpointStep: 8,
      runDir: '/tmp/x',
      createdAt: 1,
      updatedAt: 1,
    };
    await store.create({ peers: 3 }, state);
    expect(await redis.sismember(RUNS_INDEX_KEY, store.runId)).toBe(1);
    expect(await store.readConfig()).toEqual({ peers: 3 });
    const read = await store.readState();
    expect(read).toMatchObject({
      ...state,
      updatedAt: expect.any(Number),
      stopRequested: false,
    });
    expect(read!.pauseAt).toBeUndefined();
    await store.writeState({ pauseAt: 9, stopRequested: true });
    expect(await store.readState()).toMatchObject({ pauseAt: 9, stopRequested: true });
    await store.writeState({ pauseAt: undefined });
    expect((await store.readState())!.pauseAt).toBeUndefined();
  });

  it('leases: one slot per worker, renewed by heartbeats, expired when they stop, taken by a spare', async () => {
    expect(await store.claimSlot('w0', 400, 2)).toBe(0);
    expect(await store.claimSlot('w0', 400, 2)).toBe(0); // claiming again returns the slot held
    expect(await store.claimSlot('w1', 400, 2)).toBe(1);
    expect(await store.claimSlot('spare', 400, 2)).toBeUndefined();
    for (let i = 0; i < 4; i++) {
      await sleep(150);
      expect(await store.heartbeat(worker('w0'), 400, { peer: 0, step: i, status: 'training' })).toBe(true);
    }
    // w1 never renewed: its lease ran out; w0's did not.
    expect(await store.expireLeases()).toEqual([{ peer: 1, workerId: 'w1' }]);
    expect(await store.heartbeat(worker('w1'), 400, { peer: 1, step: 0, status: 'training' })).toBe(false);
    expect(await store.claimSlot('spare', 400, 2)).toBe(1);
    const slots = await store.readSlots();
    expect(slots.get(0)).toMatchObject({ workerId: 'w0', step: 3, status: 'training' });
    expect(slots.get(1)).toMatchObject({ workerId: 'spare' });
    const records = await store.readWorkers();
    expect(records.find((w) => w.workerId === 'w0')!.lastHeartbeat).toBeGreaterThan(Date.now() - 10000);
    // Only the holder can release a slot.
    expect(await store.releaseSlot(1, 'w0')).toBe(false);
    expect(await store.releaseSlot(1, 'spare')).toBe(true);
    expect((await store.readSlots()).has(1)).toBe(false);
  });

  it('a pause keeps the earliest step asked for; saved checkpoint files are counted per peer', async () => {
    await store.create({}, runState());
    expect(await store.requestPause(7)).toBe(7);
    expect(await store.requestPause(9)).toBe(7);
    expect(await store.requestPause(6)).toBe(6);
    expect(await store.countSaved(1, 10, 0)).toBe(1);
    expect(await store.countSaved(1, 10, 0)).toBe(1);
    expect(await store.countSaved(1, 10, 2)).toBe(2);
    expect(await store.countSaved(2, 10, 1)).toBe(1);
  });

  it('changes only a state that is there: no write creates a state of a few fields', async () => {
    expect(await store.writeState({ status: 'waiting', step: 3 })).toBe(false);
    expect(await store.requestPause(4)).toBe(-1);
    expect(
      await store.reportDivergence({ peer: 0, step: 3, generation: 1, reason: 'loss is NaN at step 3' }),
    ).toBe(false);
    expect(await redis.exists(store.keys.state)).toBe(0);
    await store.create({}, runState());
    expect(await store.writeState({ step: 11, pauseAt: undefined })).toBe(true);
    expect(await store.readState()).toMatchObject({ status: 'running', step: 11 });
    // A malformed state (forged) is discarded whole when the coordinator replaces it.
    await redis.hset(store.keys.state, 'generation', 'many');
    await expect(store.readState()).rejects.toThrow(/generation/);
    await store.discardState();
    expect(await store.readState()).toBeUndefined();
  });
});

/**
 * A write sent while Redis is down waits in the client's queue and goes out when Redis is back (the
 * clients retry through outages). After a restart without persistence it must find no state and change
 * nothing: a state of only its fields is one nobody can read, and the coordinator, instead of registering
 * the lost run again, waited on it for ever (seen in the Redis outage test).
 */
describe('RunStore across a Redis restart without persistence', () => {
  let port: number;
  afterAll(() => stopRedisServer(port));

  it('a state write queued during the outage does not create a malformed state', async () => {
    port = await freePort();
    await startRedisServer(port);
    const redis = newRedis(`redis://127.0.0.1:${port}`);
    redis.on('error', () => {}); // the outage below: the client retries, the test checks the outcome
    const store = new RunStore(redis, uniqueRunId('restart'));
    await store.create({}, runState({ status: 'running' }));
    stopRedisServer(port);
    await sleep(300);
    const queued = [
      store.writeState({ status: 'waiting', step: 7 }),
      store.requestPause(9),
      store.reportDivergence({ peer: 1, step: 7, generation: 3, reason: 'loss is NaN at step 7' }),
    ];
    await sleep(300);
    await startRedisServer(port);
    expect(await Promise.all(queued)).toEqual([false, -1, false]);
    expect(await redis.exists(store.keys.state)).toBe(0);
    expect(await store.readState()).toBeUndefined();
    redis.disconnect();
  });
});
