import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Queue, UnrecoverableError, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { parseRunConfig } from '@mat/core';
import { ControlJobs } from '../../packages/coordinator/src/control-jobs';
import type { Evaluations } from '../../packages/coordinator/src/evaluations';
import { JOBS, QUEUES, RunStore, type RunState } from '@mat/exchange';
import { deleteRun, newRedis, REDIS_URL, uniqueRunId } from '../exchange/redis-helpers';
import { startTestCoordinator } from '../helpers/test-coordinator';
import { waitFor } from '../helpers/wait-for';

/** A job as BullMQ hands it to a processor: its data as JSON text read back (what a forger controls). */
function jobOf(name: string, id: string, json: string): Job<unknown> {
  return { name, id, data: JSON.parse(json) as unknown } as Job<unknown>;
}

// Needs Redis on 127.0.0.1:6379.
describe('control jobs: forged and malformed jobs are refused, never acted on', () => {
  let redis: Redis;
  let runId: string;
  let outDir: string;
  let jobs: ControlJobs;
  let store: RunStore;

  const configOf = (id: string, peers = 2) =>
    parseRunConfig({
      name: id,
      outDir,
      peers,
      data: { dataset: 'fashion-mnist', trainSubset: 64, testSubset: 10 },
      train: { epochs: 1, batchSize: 16 },
    });
  const stateOf = (status: RunState['status'], peers = 2): RunState => ({
    status,
    generation: 3,
    resumeStep: 0,
    lastStep: 8,
    totalSteps: 8,
    step: 5,
    peers,
    checkpointStep: 4,
    runDir: path.join(outDir, runId),
    createdAt: 1,
    updatedAt: 1,
  });
  const create = (data: unknown, id = '7') => jobOf(JOBS.create, id, JSON.stringify(data));

  beforeEach(() => {
    redis = newRedis();
    runId = uniqueRunId('control');
    outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mat-control-jobs-'));
    jobs = new ControlJobs(
      redis,
      () => undefined as unknown as Evaluations,
      () => 1234,
    );
    store = new RunStore(redis, runId);
  });
  afterEach(async () => {
    await deleteRun(redis, runId);
    redis.disconnect();
    fs.rmSync(outDir, { recursive: true, force: true });
  });

  it('registers a new run and stops a live one (the genuine jobs)', async () => {
    await expect(
      jobs.onControl(create({ runId, config: configOf(runId), state: stateOf('waiting') })),
    ).resolves.toEqual({
      registered: true,
    });
    expect(await store.readState()).toMatchObject({ status: 'waiting', generation: 3, step: 5 });
    expect(await store.readConfig()).toMatchObject({ name: runId, peers: 2 });
    await store.writeState({ status: 'running' });
    await expect(jobs.onControl(jobOf(JOBS.stop, '8', JSON.stringify({ runId })))).resolves.toEqual({
      stopRequested: true,
    });
    expect(await store.readState()).toMatchObject({ stopRequested: true, stopRequestedAt: 1234 });
  });

  it.each(['waiting', 'running', 'paused', 'evaluating'] as const)(
    'a create or resume of a %s run is refused and leaves its config, state and slots as they were',
    async (status) => {
      await store.create(configOf(runId), stateOf(status));
      expect(await store.claimSlot('worker-a', 600000, 2)).toBe(0);
      const forgedConfig = { ...configOf(runId, 3), seed: 99 };
      const forged = { runId, config: forgedConfig, state: { ...stateOf('waiting', 3), generation: 0 } };
      for (const name of [JOBS.create, JOBS.resume]) {
        const refused = jobs.onControl(jobOf(name, '42', JSON.stringify(forged)));
        await expect(refused).rejects.toThrow(UnrecoverableError);
        await expect(refused).rejects.toThrow(
          `refused control ${name} job 42 (run ${runId}): run ${runId} is ${status} (step 5 of 8)`,
        );
      }
      expect(await store.readState()).toMatchObject({ status, generation: 3, peers: 2 });
      expect(await store.readConfig()).toMatchObject({ peers: 2, seed: configOf(runId).seed });
      expect([...(await store.readSlots()).keys()]).toEqual([0]);
    },
  );

  it('a create of a stopped or failed run is accepted (a coordinator registers it again)', async () => {
    await store.create(configOf(runId), stateOf('failed'));
    await expect(
      jobs.onControl(
        create({ runId, config: configOf(runId), state: { ...stateOf('waiting'), generation: 4 } }),
      ),
    ).resolves.toEqual({ registered: true });
    expect(await store.readState()).toMatchObject({ status: 'waiting', generation: 4 });
  });

  it.each([
    [
      'an empty run id',
      () => ({ runId: '', config: configOf(runId), state: stateOf('waiting') }),
      'runId: run ids are',
    ],
    [
      'a run id with braces',
      () => ({ runId: 'a}b', config: configOf(runId), state: stateOf('waiting') }),
      'runId: run ids are',
    ],
    ['no state', () => ({ runId, config: configOf(runId) }), 'state: '],
    [
      'a state with a negative step',
      () => ({ runId, config: configOf(runId), state: { ...stateOf('waiting'), step: -1 } }),
      'state.step: ',
    ],
    [
      'a config that is no run config',
      () => ({ runId, config: { peers: 'two' }, state: stateOf('waiting') }),
      'peers',
    ],
    [
      'config and state that disagree on the peers',
      () => ({ runId, config: configOf(runId, 3), state: stateOf('waiting') }),
      'its config has 3 peers and its state 2',
    ],
  ])('a create with %s is refused naming the job and the field', async (_, data, problem) => {
    const refused = jobs.onControl(create(data(), '11'));
    await expect(refused).rejects.toThrow(UnrecoverableError);
    await expect(refused).rejects.toThrow(/^refused control create job 11/);
    await expect(refused).rejects.toThrow(problem);
    expect(await store.readState()).toBeUndefined();
    expect(await store.readConfig()).toBeUndefined();
  });

  it('prototype keys at any depth are refused (JSON.parse makes __proto__ an own key)', async () => {
    const valid = JSON.stringify({ runId, config: configOf(runId), state: stateOf('waiting') });
    for (const json of [
      valid.replace('{', '{"__proto__":{"peers":3},'),
      valid.replace('"config":{', '"config":{"__proto__":{"peers":3},'),
      valid.replace('"state":{', '"state":{"constructor":{"prototype":{}},'),
    ]) {
      const refused = jobs.onControl(jobOf(JOBS.create, '12', json));
      await expect(refused).rejects.toThrow(
        /^refused control create job 12: malformed data: .*forbidden key/,
      );
    }
    const stop = jobs.onControl(jobOf(JOBS.stop, '13', `{"runId":"${runId}","__proto__":{"x":1}}`));
    await expect(stop).rejects.toThrow(
      'refused control stop job 13: malformed data: __proto__: forbidden key',
    );
    expect(await store.readState()).toBeUndefined();
    expect(({} as Record<string, unknown>).peers).toBeUndefined();
  });

  it('a stop of a run Redis does not have is refused and creates no state; a malformed stop is refused', async () => {
    const unknown = jobs.onControl(jobOf(JOBS.stop, '20', JSON.stringify({ runId })));
    await expect(unknown).rejects.toThrow(
      `refused control stop job 20 (run ${runId}): run ${runId} is not in Redis`,
    );
    expect(await redis.exists(store.keys.state)).toBe(0);
    for (const data of ['{}', '{"runId":7}', '{"runId":"x{y}"}', '"stop"']) {
      await expect(jobs.onControl(jobOf(JOBS.stop, '21', data))).rejects.toThrow(
        /^refused control stop job 21: malformed data: /,
      );
    }
    await expect(jobs.onControl(jobOf('delete', '22', '{}'))).rejects.toThrow(
      'refused control delete job 22: unknown control job "delete"',
    );
  });

  it('a malformed checkpoint job, or one of a peer the run does not have, is refused before anything is counted', async () => {
    await store.create(configOf(runId), stateOf('running'));
    const saved = (data: unknown) => jobOf(JOBS.peerSaved, '40', JSON.stringify(data));
    await expect(jobs.onPeerSaved(saved({ runId, generation: 3, step: '4', peer: 0 }))).rejects.toThrow(
      /^refused checkpoint peer-saved job 40: malformed data: step: /,
    );
    await expect(jobs.onPeerSaved(saved({ runId, generation: 3, step: 4, peer: 2 }))).rejects.toThrow(
      `refused checkpoint peer-saved job 40 (run ${runId}): peer 2 of a run of 2 peers`,
    );
    expect(await redis.exists(store.keys.checkpointPeers(3, 4))).toBe(0);
    await expect(jobs.onPeerSaved(saved({ runId, generation: 3, step: 4, peer: 1 }))).resolves.toEqual({
      saved: 1,
    });
  });

  it('commits the checkpoint once every peer saved it; prunes all but the newest three and train.keepEpochs', async () => {
    const config = parseRunConfig({
      ...configOf(runId, 1),
      train: { epochs: 4, batchSize: 16, checkpointEvery: 1, keepEpochs: [1] },
    }); // 64 images / 16: 4 steps per epoch, 16 in all
    await store.create(config, { ...stateOf('running', 1), lastStep: 16, totalSteps: 16 });
    const enqueued: number[] = [];
    jobs = new ControlJobs(
      redis,
      () =>
        ({
          pinnedSteps: async () => new Set<number>(),
          enqueue: async (_peers: number, step: number) => void enqueued.push(step),
        }) as unknown as Evaluations,
      () => 1234,
    );
    const root = path.join(outDir, runId, 'checkpoints');
    for (let step = 1; step <= 9; step++) {
      const dir = path.join(root, `step-${String(step).padStart(8, '0')}`);
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, 'peer-0.safetensors'), 'weights');
      const data = JSON.stringify({ runId, generation: 3, step, peer: 0 });
      await jobs.onPeerSaved(jobOf(JOBS.peerSaved, `s${step}`, data));
    }
    expect(fs.readdirSync(root).filter((d) => d.startsWith('step-'))).toEqual([
      'step-00000004', // the end of epoch 1, kept
      'step-00000007',
      'step-00000008',
      'step-00000009',
    ]);
    expect(enqueued).toEqual([4, 8]); // the epoch evaluations
  });

  it('a stop of a run that has ended changes nothing', async () => {
    await store.create(configOf(runId), stateOf('finished'));
    await expect(jobs.onControl(jobOf(JOBS.stop, '30', JSON.stringify({ runId })))).resolves.toEqual({
      stopRequested: false,
      status: 'finished',
    });
    expect((await store.readState())?.stopRequested).toBe(false);
  });
});

// Needs Redis on 127.0.0.1:6379. A real Coordinator and its control queue; the forger is a queue producer.
describe('control jobs through the coordinator', () => {
  it('a forged create of the live run is logged naming the job and the run keeps its config and state', async () => {
    const t = await startTestCoordinator('forged-create');
    const { store, lines, runId, config } = t;
    const queue = new Queue(QUEUES.control, { connection: { url: REDIS_URL }, prefix: t.prefix });
    try {
      const before = await waitFor(async () => store.readState(), 'the run', 20000);
      const forged = await queue.add(JOBS.create, {
        runId,
        config: { ...config, peers: 3 },
        state: { ...before, peers: 3, generation: 0, runDir: '/tmp/elsewhere' },
      });
      const line = await waitFor(
        async () => lines.find((l) => l.includes(`(${forged.id})`)),
        'the refusal in the log',
        20000,
      );
      expect(line).toBe(
        `queue ${QUEUES.control}: job create (${forged.id}) failed: refused control create job ${forged.id} (run ${runId}): run ${runId} is waiting (step 0 of ${before.lastStep}); only a new, stopped or failed run is created or resumed`,
      );
      expect(await store.readState()).toMatchObject({ peers: 2, runDir: before.runDir });
      expect(await store.readConfig()).toMatchObject({ peers: 2 });
      expect(await forged.isFailed()).toBe(true);
    } finally {
      await queue.close();
      await t.close();
    }
  }, 60000);
});
