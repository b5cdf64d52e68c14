import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Queue, Worker as BullWorker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { stepDirName } from '@mat/core';
import { QUEUES } from '@mat/exchange';
import { Evaluations } from '../../packages/coordinator/src/evaluations';
import { deleteRun, newRedis, REDIS_URL, uniqueRunId } from '../exchange/redis-helpers';

/**
 * The coordinator's view of a run's evaluation jobs, against the test Redis: which checkpoints are pinned
 * (not to be pruned), when every scheduled evaluation has ended, and which could not be done — never one
 * left out silently.
 */
describe('Evaluations', () => {
  let redis: Redis;
  let runId: string;
  let prefix: string;
  let queue: Queue;
  let bull: BullWorker;
  let runDir: string;
  let evaluations: Evaluations;

  beforeAll(() => {
    redis = newRedis();
  });
  beforeEach(() => {
    runId = uniqueRunId('evals');
    prefix = `q-${runId}`;
    const connection = { url: REDIS_URL, maxRetriesPerRequest: null } as never;
    queue = new Queue(QUEUES.evaluations, { connection, prefix });
    bull = new BullWorker(QUEUES.evaluations, null, { connection, prefix, autorun: false });
    runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mat-evals-'));
    evaluations = new Evaluations(queue, runId);
  });
  afterEach(async () => {
    await bull.close();
    await queue.close();
    await deleteRun(redis, runId, prefix);
    fs.rmSync(runDir, { recursive: true, force: true });
  });
  afterAll(() => redis.disconnect());

  const dir = (step: number) => path.join(runDir, 'checkpoints', stepDirName(step));
  const result = (job: Job) => ({
    peer: job.data.peer,
    step: job.data.step,
    count: 16,
    cleanAccuracy: 0.5,
    robustAccuracy: 0.25,
  });

  /** Runs every waiting job as a worker would: `fails(job)` decides which attempts fail. */
  async function runJobs(fails: (job: Job) => boolean): Promise<void> {
    for (let token = 0; ; token++) {
      const job = (await bull.getNextJob(`t${token}`, { block: false })) as Job | undefined;
      if (!job) return;
      if (fails(job)) await job.moveToFailed(new Error(`ENOENT: ${job.data.dir}`), `t${token}`, false);
      else await job.moveToCompleted(result(job), `t${token}`, false);
    }
  }

  const run = (evaluated: number[] = []) => ({
    runDir,
    peers: 2,
    epochSteps: [20],
    lastStep: 40,
    evaluated: (step: number) => evaluated.includes(step),
  });

  it('epoch and final evaluations: pinned until done; one that failed every attempt is listed as missing', async () => {
    await evaluations.enqueue(2, 20, dir(20), false);
    await evaluations.enqueue(2, 40, dir(40), true);
    expect([...(await evaluations.pinnedSteps())].sort()).toEqual([20, 40]);
    expect(await evaluations.check(run())).toEqual({ type: 'pending' });

    // Peer 1's epoch evaluation fails both of its attempts; everything else completes.
    await runJobs((job) => job.data.step === 20 && job.data.peer === 1);
    await runJobs((job) => job.data.step === 20 && job.data.peer === 1);
    expect(await evaluations.pinnedSteps()).toEqual(new Set());
    const outcome = await evaluations.check(run());
    expect(outcome).toEqual({
      type: 'ended',
      final: [
        { peer: 0, step: 40, count: 16, cleanAccuracy: 0.5, robustAccuracy: 0.25 },
        { peer: 1, step: 40, count: 16, cleanAccuracy: 0.5, robustAccuracy: 0.25 },
      ],
      missing: [{ peer: 1, step: 20, reason: `ENOENT: ${dir(20)}` }],
    });
  });

  it('a job that is gone: asked for again while its checkpoint is there; else done if in metrics.jsonl, else missing', async () => {
    await evaluations.enqueue(2, 40, dir(40), true);
    await runJobs(() => false);
    // No job for the epoch evaluation at step 20, no checkpoint, nothing in metrics.jsonl: missing.
    const gone = `its checkpoint ${dir(20)} was gone before it was evaluated`;
    expect(await evaluations.check(run())).toMatchObject({
      type: 'ended',
      missing: [
        { peer: 0, step: 20, reason: gone },
        { peer: 1, step: 20, reason: gone },
      ],
    });
    // Its line is in metrics.jsonl (it was done before Redis lost the job): nothing missing.
    expect(await evaluations.check(run([20]))).toMatchObject({ type: 'ended', missing: [] });
    // Its checkpoint is there: the jobs are queued again, and the evaluations wait for them.
    fs.mkdirSync(dir(20), { recursive: true });
    fs.writeFileSync(path.join(dir(20), 'manifest.json'), '{}');
    expect(await evaluations.check(run())).toEqual({ type: 'pending' });
    expect(await evaluations.pinnedSteps()).toEqual(new Set([20]));
    await runJobs(() => false);
    expect(await evaluations.check(run())).toMatchObject({ type: 'ended', missing: [] });
  });

  it('a stopped run: the evaluations up to its last checkpoint not yet done are listed, left queued for a resume', async () => {
    await evaluations.enqueue(2, 20, dir(20), false);
    fs.mkdirSync(dir(40), { recursive: true });
    fs.writeFileSync(path.join(dir(40), 'manifest.json'), '{}');
    const stopped = { ...run(), epochSteps: [20, 40], lastStep: 60, stoppedAt: 44 };
    const notDone = 'not done when the run stopped at step 44; resuming the run does it';
    expect(await evaluations.check(stopped)).toEqual({
      type: 'ended',
      final: [],
      missing: [
        { peer: 0, step: 20, reason: notDone },
        { peer: 1, step: 20, reason: notDone },
        { peer: 0, step: 40, reason: notDone },
        { peer: 1, step: 40, reason: notDone },
      ],
    });
    // Nothing was queued for step 40 (the resumed run does that), and step 20's jobs are still waiting.
    expect(await evaluations.pinnedSteps()).toEqual(new Set([20]));
  });
});
