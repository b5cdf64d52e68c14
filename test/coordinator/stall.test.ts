import type { WorkerRecord } from '@mat/exchange';
import { startTestCoordinator, type TestCoordinator } from '../helpers/test-coordinator';

// Needs Redis on 127.0.0.1:6379. A real Coordinator; the workers are their slot leases and records, kept
// alive (as a worker's heartbeat thread keeps them) while their peers never take a step.
describe('Coordinator: a run whose peers stop taking steps', () => {
  let t: TestCoordinator | undefined;
  let beat: NodeJS.Timeout | undefined;
  afterEach(async () => {
    clearInterval(beat);
    await t?.close();
  });

  it('restarts from the last checkpoint after the stall grace, and fails when it stalls again from it', async () => {
    t = await startTestCoordinator('stall', { stallGraceMs: 1500 });
    const { store, redis, lines } = t;
    await t.untilState(() => true, 'the run');
    const record = (peer: number): WorkerRecord => ({
      workerId: `w${peer}`,
      host: 'h',
      pid: 1,
      peer,
      backend: 'cpu',
      status: 'training',
      stepSeconds: 0.01,
    });
    for (const peer of [0, 1]) expect(await store.claimSlot(`w${peer}`, 600000, 2)).toBe(peer);
    // Both peers took 3 steps, then wait for something that never comes; their heartbeats go on.
    const heartbeat = () =>
      Promise.all(
        [0, 1].map((peer) => store.heartbeat(record(peer), 600000, { peer, step: 3, status: 'training' })),
      );
    await heartbeat();
    beat = setInterval(() => void heartbeat(), 200);

    const restarted = await t.untilState((s) => s.generation >= 2, 'a new generation after the stall');
    expect(restarted).toMatchObject({ status: 'running', generation: 2, resumeStep: 0 });
    expect(lines.filter((l) => /stalled: no peer got past step 3 for \d+ s/.test(l))).toHaveLength(1);

    // Nothing moves in the new generation either: a second stall from the same checkpoint fails the run.
    const failed = await t.untilState((s) => s.status === 'failed', 'the run failed after a second stall');
    expect(failed.error).toMatch(
      /^the run stalled twice from the checkpoint at step 0: no peer got past step 3/,
    );
    const events = (await redis.xrange(store.keys.metrics, '-', '+'))
      .map(([, fields]) => JSON.parse(fields[1]) as { type: string; event?: string })
      .filter((e) => e.type === 'run')
      .map((e) => e.event);
    expect(events).toEqual(expect.arrayContaining(['generation', 'stalled', 'failed']));
    expect(events.filter((e) => e === 'stalled')).toHaveLength(1);
  }, 60000);
});
