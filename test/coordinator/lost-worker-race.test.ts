import { RunStore } from '@mat/exchange';
import { startTestCoordinator, type TestCoordinator } from '../helpers/test-coordinator';

// Needs Redis on 127.0.0.1:6379. A real Coordinator; the workers are only their slot leases.
describe('Coordinator: a lost worker', () => {
  let t: TestCoordinator | undefined;
  afterEach(async () => {
    jest.restoreAllMocks();
    await t?.close();
  });

  it('ends its generation even when its slot is claimed again before the coordinator reads the slots', async () => {
    t = await startTestCoordinator('lost-race');
    const { store } = t;
    await t.untilState(() => true, 'the run');
    // Worker A's lease runs out soon (no heartbeat renews it); worker B's holds.
    expect(await store.claimSlot('worker-a', 1500, 2)).toBe(0);
    expect(await store.claimSlot('worker-b', 600000, 2)).toBe(1);
    await t.untilState((s) => s.generation === 1, 'generation 1');

    // The race: a spare (or worker A's container, restarted) claims the freed slot right after the
    // coordinator's expiry removed A's lease and before the coordinator reads the slots.
    const expire = RunStore.prototype.expireLeases;
    let spareClaimed: number | undefined;
    jest.spyOn(RunStore.prototype, 'expireLeases').mockImplementation(async function (this: RunStore, grace) {
      const lost = await expire.call(this, grace);
      if (lost.length > 0 && spareClaimed === undefined)
        spareClaimed = await store.claimSlot('spare', 600000, 2);
      return lost;
    });

    const state = await t.untilState((s) => s.generation >= 2, 'generation 2');
    expect(spareClaimed).toBe(0);
    expect(state).toMatchObject({ status: 'running', generation: 2, resumeStep: 0 });
  }, 60000);
});
