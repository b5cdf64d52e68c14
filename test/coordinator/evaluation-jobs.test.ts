import { Job, Queue, Worker as BullWorker } from 'bullmq';
import type { Redis } from 'ioredis';
import { JOBS, jobIds, QUEUES } from '@mat/exchange';
import { EvaluationJobs } from '@mat/worker';
import { Evaluations } from '../../packages/coordinator/src/evaluations';
import { deleteRun, newRedis, REDIS_URL, uniqueRunId } from '../exchange/redis-helpers';
import { waitFor } from '../helpers/wait-for';

/** A run whose only scheduled evaluation is the final one, at `lastStep`. */
const finalOnly = (peers: number, lastStep: number) => ({
  runDir: '/runs/r',
  peers,
  epochSteps: [],
  lastStep,
  evaluated: () => false,
});

/** Waits until the final evaluation of a run of `peers` ending at `lastStep` is no longer pending. */
function finalEvaluation(evaluations: Evaluations, peers: number, lastStep: number) {
  return waitFor(
    async () => {
      const f = await evaluations.check(finalOnly(peers, lastStep));
      return f.type === 'pending' ? undefined : f;
    },
    'the final evaluation',
    20000,
  );
}

// Needs Redis on 127.0.0.1:6379. Evaluation jobs go through the job contracts at both ends.
describe('evaluation jobs through the contracts', () => {
  let redis: Redis;
  let runId: string;
  let prefix: string;
  let queue: Queue;

  beforeEach(() => {
    redis = newRedis();
    runId = uniqueRunId('eval-jobs');
    prefix = `test-${runId}`;
    queue = new Queue(QUEUES.evaluations, { connection: { url: REDIS_URL }, prefix });
  });
  afterEach(async () => {
    await queue.close();
    await deleteRun(redis, runId, prefix);
    redis.disconnect();
  });

  /** Completes the run's evaluation jobs with what `result` returns (a stand-in for the workers). */
  async function completeWith(result: (peer: number) => unknown, jobs: number): Promise<void> {
    let done = 0;
    const worker = new BullWorker(
      QUEUES.evaluations,
      async (job) => {
        done++;
        return result((job.data as { peer: number }).peer);
      },
      { connection: { url: REDIS_URL }, prefix },
    );
    await waitFor(async () => (done >= jobs ? true : undefined), 'the jobs', 20000);
    await worker.close();
  }

  it('the coordinator takes a well-formed result of each peer and refuses the others as missing', async () => {
    const evaluations = new Evaluations(queue, runId);
    await evaluations.enqueue(3, 8, '/runs/r/checkpoints/step-8', true);
    const queued = await Job.fromId(queue, jobIds.evaluate(runId, 8, 1));
    expect(queued?.data).toEqual({ runId, step: 8, peer: 1, dir: '/runs/r/checkpoints/step-8', final: true });

    const good = (peer: number) => ({ peer, step: 8, count: 10, cleanAccuracy: 0.5, robustAccuracy: 0.25 });
    await completeWith(
      (peer) =>
        peer === 0
          ? good(0)
          : peer === 1
            ? { ...good(1), cleanAccuracy: 7 } // not an accuracy
            : { ...good(0) }, // the result of another peer
      3,
    );
    const final = await finalEvaluation(evaluations, 3, 8);
    expect(final.type).toBe('ended');
    if (final.type !== 'ended') return;
    expect(final.final).toEqual([good(0)]);
    expect(final.missing.map((m) => m.peer)).toEqual([1, 2]);
    expect(final.missing[0]!.reason).toBe(
      `malformed evaluation result of job ${jobIds.evaluate(runId, 8, 1)}: cleanAccuracy: Too big: expected number to be <=1`,
    );
    expect(final.missing[1]!.reason).toBe(
      `evaluation job ${jobIds.evaluate(runId, 8, 2)} returned the result of peer 0 at step 8`,
    );
  }, 60000);

  it('the coordinator reports every well-formed result as done', async () => {
    const evaluations = new Evaluations(queue, runId);
    await evaluations.enqueue(2, 4, '/runs/r/checkpoints/step-4', true);
    const good = (peer: number) => ({ peer, step: 4, count: 10, cleanAccuracy: 1, robustAccuracy: 0 });
    await completeWith(good, 2);
    const final = await finalEvaluation(evaluations, 2, 4);
    expect(final).toEqual({ type: 'ended', final: [good(0), good(1)], missing: [] });
  }, 60000);

  it('a worker fails a malformed job naming the job and the field, before reading anything', async () => {
    const lines: string[] = [];
    const evaluator = new EvaluationJobs({ url: REDIS_URL }, prefix, redis, 'worker-x', {
      leaseMs: 10000,
      holdLock: () => {},
      log: (l) => lines.push(l),
    });
    try {
      const forged = await queue.add(JOBS.evaluate, { runId, step: 2, peer: -1, dir: '', final: 'yes' });
      expect(await evaluator.runOne()).toBe(true);
      const failed = await Job.fromId(queue, forged.id!);
      expect(await failed?.isFailed()).toBe(true);
      expect(failed?.failedReason).toMatch(
        new RegExp(`^malformed evaluation job ${forged.id}: peer: .*; dir: .*; final: `),
      );
      expect(lines).toEqual([`evaluation job ${forged.id} failed: ${failed?.failedReason}`]);
      // Nothing was read or written for the run.
      expect(await redis.exists(`mat:{${runId}}:metrics`)).toBe(0);
    } finally {
      await evaluator.close();
    }
  }, 60000);
});
