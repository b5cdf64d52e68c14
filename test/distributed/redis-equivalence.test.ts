import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { REDIS_URL, uniqueRunId } from '../exchange/redis-helpers';
import { assertBuilt, checkpointState, maxAbsDiff, referenceState, tinyConfig, stepLines } from './helpers';
import { Topology } from './topology';

// Several processes per test: generous under a loaded CI machine (times are never asserted).
jest.setTimeout(300000);

// Needs Redis on 127.0.0.1:6379 (scripts/ensure-redis.sh) and the Fashion-MNIST files.
describe('Redis runtime: mat coordinator + one mat worker process per peer', () => {
  let dir: string;
  let topology: Topology | undefined;
  beforeAll(() => {
    assertBuilt();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mat-redis-eq-'));
  });
  afterEach(async () => {
    await topology?.close();
    topology = undefined;
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it.each([2, 3])('%i peers: after 20 steps the same weights as the in-process trainer', async (peers) => {
    const config = tinyConfig(dir, uniqueRunId(`eq${peers}`), peers);
    topology = new Topology(config, REDIS_URL);
    const coordinator = topology.startCoordinator();
    for (let i = 0; i < peers; i++) topology.startWorker();
    const code = await coordinator.exited;
    expect({ code, logs: code === 0 ? '' : topology.logs() }).toEqual({ code: 0, logs: '' });
    await Promise.all(topology.workers.map((w) => w.exited));

    const distributed = checkpointState(config);
    const reference = await referenceState(config);
    expect(distributed.step).toBe(20);
    expect(maxAbsDiff(distributed.values, reference.values)).toBeLessThanOrEqual(1e-5);

    const runDir = path.join(dir, config.name);
    const summary = JSON.parse(fs.readFileSync(path.join(runDir, 'summary.json'), 'utf8'));
    expect(summary).toMatchObject({ stepsDone: 20, metadata: { runtime: 'redis' } });
    // The final evaluation (evaluation jobs taken by the idle workers) equals the reference's.
    const refSummary = JSON.parse(
      fs.readFileSync(path.join(dir, `${config.name}-reference`, 'summary.json'), 'utf8'),
    );
    expect(summary.final.peers).toEqual(refSummary.final.peers);
    expect(stepLines(runDir)).toHaveLength(20);
    // Nothing was rejected on the way, and the data plane left nothing behind.
    expect(topology.logs()).not.toMatch(/rejected a message/);
    expect(await topology.redis.keys(`mat:{${config.name}}:data:*`)).toEqual([]);
  });
  it('bounded staleness (train.maxStaleness 2): 3 workers finish, no step is staler than 2, leftovers expire', async () => {
    const config = tinyConfig(dir, uniqueRunId('stale'), 3, {
      train: { epochs: 1, batchSize: 8, maxSteps: 20, checkpointEvery: 4, maxStaleness: 2 },
    });
    topology = new Topology(config, REDIS_URL);
    const coordinator = topology.startCoordinator();
    for (let i = 0; i < 3; i++) topology.startWorker();
    const code = await coordinator.exited;
    expect({ code, logs: code === 0 ? '' : topology.logs() }).toEqual({ code: 0, logs: '' });
    await Promise.all(topology.workers.map((w) => w.exited));

    const runDir = path.join(dir, config.name);
    const summary = JSON.parse(fs.readFileSync(path.join(runDir, 'summary.json'), 'utf8'));
    expect(summary).toMatchObject({ stepsDone: 20, metadata: { runtime: 'redis' } });
    expect(summary.final.peers).toHaveLength(3);
    const steps = stepLines(runDir);
    expect(steps).toHaveLength(20);
    for (const step of steps)
      for (const peer of step.peers as { staleness?: number }[]) expect([0, 1, 2]).toContain(peer.staleness);
    expect(topology.logs()).not.toMatch(/rejected a message/);
    // Messages nobody collected (a fast peer's last steps) are left to their expiry, never kept for good.
    for (const key of await topology.redis.keys(`mat:{${config.name}}:data:*`))
      expect(await topology.redis.pttl(key)).toBeGreaterThan(0);
  });
});
