import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Redis } from 'ioredis';
import { parseRunConfig } from '@mat/core';
import { Coordinator } from '@mat/coordinator';
import { RunStore } from '@mat/exchange';
import { deleteRun, newRedis, REDIS_URL, uniqueRunId } from '../exchange/redis-helpers';
import { waitFor } from '../helpers/wait-for';

// Needs Redis on 127.0.0.1:6379. A real Coordinator; the workers are only their slot leases.
describe('Coordinator: a lost worker', () => {
  let redis: Redis;
  let runId: string;
  let outDir: string;
  let coordinator: Coordinator | undefined;

  beforeEach(() => {
    redis = newRedis();
    runId = uniqueRunId('lost-race');
    outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mat-lost-race-'));
  });
  afterEach(async () => {
    jest.restoreAllMocks();
    coordinator?.detach();
    await coordinator?.close();
    await deleteRun(redis, runId, `test-${runId}`);
    redis.disconnect();
    fs.rmSync(outDir, { recursive: true, force: true });
  });

  it('ends its generation even when its slot is claimed again before the coordinator reads the slots', async () => {
    const config = parseRunConfig({
      name: runId,
      outDir,
      peers: 2,
      data: { dataset: 'fashion-mnist', trainSubset: 64, testSubset: 10 },
      train: { epochs: 1, batchSize: 16 },
    });
    coordinator = await Coordinator.start({
      conn: { url: REDIS_URL },
      config,
      queuePrefix: `test-${runId}`,
      pollMs: 20,
    });
    const outcome = coordinator.run();
    outcome.catch(() => {}); // detached in afterEach
    const store = new RunStore(redis, runId);
    await waitFor(async () => ((await store.readState()) ? true : undefined), 'the run', 20000);
    // Worker A's lease runs out soon (no heartbeat renews it); worker B's holds.
    expect(await store.claimSlot('worker-a', 1500, 2)).toBe(0);
    expect(await store.claimSlot('worker-b', 600000, 2)).toBe(1);
    await waitFor(
      async () => ((await store.readState())?.generation === 1 ? true : undefined),
      'generation 1',
      20000,
    );

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

    const state = await waitFor(
      async () => {
        const s = await store.readState();
        return s && s.generation >= 2 ? s : undefined;
      },
      'generation 2',
      20000,
    );
    expect(spareClaimed).toBe(0);
    expect(state).toMatchObject({ status: 'running', generation: 2, resumeStep: 0 });
  }, 60000);
});
