import type { Redis } from 'ioredis';
import { RunStore, type RunState } from '@mat/exchange';
import { main } from '../../packages/cli/src/main';
import { deleteRun, newRedis, REDIS_URL, uniqueRunId } from '../exchange/redis-helpers';

/** `mat status`, in-process against the test Redis: what it prints of a run's state. */
describe('mat status', () => {
  let redis: Redis;
  let runId: string;
  let store: RunStore;

  beforeAll(() => {
    redis = newRedis();
  });
  beforeEach(async () => {
    runId = uniqueRunId('status');
    store = new RunStore(redis, runId);
    const state: RunState = {
      status: 'running',
      generation: 2,
      resumeStep: 0,
      lastStep: 20,
      totalSteps: 20,
      step: 6,
      peers: 2,
      checkpointStep: 4,
      runDir: '/tmp/runs/status',
      createdAt: 1,
      updatedAt: 1,
      stopRequested: false,
    };
    await store.create({ name: runId }, state);
  });
  afterEach(async () => deleteRun(redis, runId));
  afterAll(() => redis.disconnect());

  async function statusOutput(args: string[]): Promise<string> {
    let text = '';
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      text += String(chunk);
      return true;
    });
    try {
      await main(['status', ...args, '--redis-url', REDIS_URL]);
    } finally {
      spy.mockRestore();
    }
    return text;
  }

  it('a divergence reported but not yet acted on by the coordinator: peer, step and reason are shown', async () => {
    expect(await statusOutput([runId])).not.toMatch(/divergence/);
    await store.reportDivergence({ peer: 1, step: 7, generation: 2, reason: 'loss is NaN at step 7' });
    const out = await statusOutput([runId]);
    expect(out).toMatch(/^run .*: running, step 6\/20, generation 2$/m);
    expect(out).toContain(
      '  divergence: peer 1 at step 7 (generation 2): loss is NaN at step 7 ' +
        '(reported; the coordinator has not acted on it yet)',
    );
    // The list of runs names it too.
    const list = (await statusOutput([])).split('\n').find((l) => l.startsWith(`${runId} `));
    expect(list).toBe(`${runId}  running  step 6/20  divergence: peer 1 at step 7 (generation 2)`);
  });

  it('once the run failed on it, the divergence is shown without "not acted on"; a rollback is shown', async () => {
    await store.reportDivergence({ peer: 0, step: 3, generation: 2, reason: 'logits are not finite' });
    await store.writeState({ status: 'failed', error: 'peer 0 diverged at step 3' });
    let out = await statusOutput([runId]);
    expect(out).toContain('  divergence: peer 0 at step 3 (generation 2): logits are not finite\n');
    expect(out).toContain('  error: peer 0 diverged at step 3\n');
    await store.writeState({ status: 'running', divergence: undefined, rolledBackFrom: 3 });
    out = await statusOutput([runId]);
    expect(out).not.toMatch(/divergence:/);
    expect(out).toContain('  rolled back to the last checkpoint after a divergence at step 3\n');
  });
});
