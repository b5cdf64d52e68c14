import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Redis } from 'ioredis';
import { parseRunConfig } from '@mat/core';
import { Coordinator } from '@mat/coordinator';
import { RunStore } from '@mat/exchange';
import { deleteRun, newRedis, REDIS_URL, uniqueRunId } from '../exchange/redis-helpers';
import { waitFor } from '../helpers/wait-for';

// Needs Redis on 127.0.0.1:6379. A real Coordinator, no workers.
describe('Coordinator: a malformed run state in Redis', () => {
  let redis: Redis;
  let runId: string;
  let outDir: string;
  let coordinator: Coordinator | undefined;

  beforeEach(() => {
    redis = newRedis();
    runId = uniqueRunId('unreadable');
    outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mat-unreadable-'));
  });
  afterEach(async () => {
    coordinator?.detach();
    await coordinator?.close();
    await deleteRun(redis, runId, `test-${runId}`);
    redis.disconnect();
    fs.rmSync(outDir, { recursive: true, force: true });
  });

  it('is said once, then replaced by registering the run again from its directory', async () => {
    const config = parseRunConfig({
      name: runId,
      outDir,
      peers: 2,
      data: { dataset: 'fashion-mnist', trainSubset: 64, testSubset: 10 },
      train: { epochs: 1, batchSize: 16 },
    });
    const lines: string[] = [];
    coordinator = await Coordinator.start({
      conn: { url: REDIS_URL },
      config,
      queuePrefix: `test-${runId}`,
      pollMs: 20,
      unreadableGraceMs: 1500,
      log: (line) => lines.push(line),
    });
    const outcome = coordinator.run();
    outcome.catch(() => {}); // detached in afterEach
    const store = new RunStore(redis, runId);
    // Registered, and the coordinator has seen it so (its registration polls the state too).
    await waitFor(() => lines.some((l) => /: created/.test(l)), 'the run registered', 20000);
    const first = (await store.readState())!;

    // A forged (or damaged) field: no process of the run can read the state any more.
    await redis.hset(store.keys.state, 'generation', 'many');
    await expect(store.readState()).rejects.toThrow(/generation/);
    const state = await waitFor(
      async () => store.readState().catch(() => undefined),
      'the state registered again',
      20000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}; the coordinator said:\n${lines.join('\n')}`);
    });
    expect(state).toMatchObject({ status: 'waiting', generation: 0, runDir: first.runDir });
    expect(state.createdAt).toBeGreaterThan(first.createdAt - 1);
    // One line while it lasted (not one per 20 ms look), one when it was replaced.
    expect(lines.filter((l) => /malformed state of run/.test(l) && !/replacing/.test(l))).toHaveLength(1);
    expect(
      lines.filter((l) => /unreadable for 2 s .*replacing it by registering the run again/.test(l)),
    ).toHaveLength(1);
  }, 60000);
});
