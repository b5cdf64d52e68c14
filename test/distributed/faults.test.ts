import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Rng } from '@mat/core';
import {
  freePort,
  REDIS_URL,
  startRedisServer,
  stopRedisServer,
  uniqueRunId,
} from '../exchange/redis-helpers';
import {
  assertBuilt,
  checkpointState,
  maxAbsDiff,
  referenceState,
  runMat,
  tinyConfig,
  waitFor,
  stepLines,
} from './helpers';
import { Topology } from './topology';

// Several processes per test: generous under a loaded CI machine (times are never asserted).
jest.setTimeout(300000);

/**
 * Faults during a distributed run: each run must still finish with exactly the weights of an uninterrupted
 * run (the in-process reference, whose equality with an uninterrupted distributed run is tested in
 * redis-equivalence.test.ts). Checkpoints every 4 of the 20 steps; leases of 1.5 s.
 */
describe('faults in a distributed run', () => {
  let dir: string;
  let topology: Topology | undefined;
  let reference: Float32Array[][];
  // The fault steps are random but seeded, so a failure can be replayed.
  const rng = new Rng(2024);
  const randomStep = () => 3 + rng.int(12); // 3..14 of 20

  beforeAll(async () => {
    assertBuilt();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mat-faults-'));
    reference = (await referenceState(tinyConfig(dir, 'faults', 2))).values;
  });
  afterEach(async () => {
    await topology?.close();
    topology = undefined;
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** Waits until some peer has done `step` steps; returns that peer's worker process. */
  async function workerAtStep(t: Topology, step: number) {
    const pid = await waitFor(async () => {
      for (const s of (await t.peerSteps()).values()) if (s.step >= step && s.pid) return s.pid;
      return undefined;
    }, `a peer at step ${step}`);
    const worker = t.workers.find((w) => w.child.pid === pid);
    if (!worker) throw new Error(`pid ${pid} is not one of this test's workers`);
    return worker;
  }

  async function finishesLikeReference(t: Topology, coordinatorIndex = 0): Promise<void> {
    const code = await t.coordinators[coordinatorIndex].exited;
    expect({ code, logs: code === 0 ? '' : t.logs() }).toEqual({ code: 0, logs: '' });
    const { step, values } = checkpointState(t.config);
    expect(step).toBe(20);
    expect(maxAbsDiff(values, reference)).toBeLessThanOrEqual(1e-5);
    // metrics.jsonl, kept live through the fault (rollbacks, restarts), ends clean: each step once.
    const steps = stepLines(path.join(t.config.outDir, t.config.name)).map((l) => l.step);
    expect(steps).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  }

  async function events(t: Topology): Promise<Array<Record<string, unknown>>> {
    const rows = await t.redis.xrange(t.store.keys.metrics, '-', '+');
    return rows.map(([, f]) => JSON.parse(f[f.indexOf('m') + 1]) as Record<string, unknown>);
  }

  it('kill -9 of a worker at a random step: a hot spare takes its slot, every peer rolls back, same weights', async () => {
    topology = new Topology(tinyConfig(dir, uniqueRunId('kill'), 2), REDIS_URL);
    topology.startCoordinator();
    for (let i = 0; i < 3; i++) topology.startWorker(); // one hot spare
    const victim = await workerAtStep(topology, randomStep());
    victim.child.kill('SIGKILL');
    await finishesLikeReference(topology);
    const log = await events(topology);
    expect(log).toContainEqual(expect.objectContaining({ type: 'worker', event: 'lost' }));
    expect(log.filter((e) => e.type === 'run' && e.event === 'generation').length).toBeGreaterThanOrEqual(2);
    // The first holders claimed their slots; the spare took the lost worker's over.
    const claims = log.filter(
      (e) => e.type === 'worker' && (e.event === 'claimed' || e.event === 'took-over'),
    );
    expect(claims.slice(0, 2).map((e) => e.event)).toEqual(['claimed', 'claimed']);
    expect(claims.slice(2).map((e) => e.event)).toContain('took-over');
    expect(topology.logs()).toMatch(/claimed peer/);
    expect(topology.logs()).toMatch(/took over peer/);
    // summary.json and the coordinator's summary record the loss, the new generation and the steps redone.
    const summary = JSON.parse(
      fs.readFileSync(path.join(topology.config.outDir, topology.config.name, 'summary.json'), 'utf8'),
    );
    expect(summary.history.lostWorkers).toBe(1);
    expect(summary.history.generations).toBeGreaterThanOrEqual(2);
    expect(summary.timing.recoverySeconds).toBeGreaterThan(0);
    expect(topology.coordinators[0].output()).toMatch(
      /recovery: \d+ generations, 0 rollbacks, 1 lost workers, \d+ steps redone/,
    );
  });

  it('SIGTERM to a worker: it checkpoints with the others at a common step and leaves; a spare continues', async () => {
    topology = new Topology(tinyConfig(dir, uniqueRunId('term'), 2), REDIS_URL);
    topology.startCoordinator();
    for (let i = 0; i < 3; i++) topology.startWorker();
    const leaving = await workerAtStep(topology, randomStep());
    leaving.child.kill('SIGTERM');
    expect(await leaving.exited).toBe(0);
    expect(leaving.output()).toMatch(/done: left/);
    await finishesLikeReference(topology);
    // The next generation starts where the leaving worker paused (a committed checkpoint there), not earlier.
    const starts = (await events(topology)).filter((e) => e.type === 'run' && e.event === 'generation');
    expect(starts.length).toBe(2);
    const pausedAt = Number(/paused at step (\d+)/.exec(topology.logs())?.[1]);
    expect(starts[1].step).toBe(pausedAt);
  });

  it('kill -9 of the coordinator: a restarted coordinator picks the run up', async () => {
    topology = new Topology(tinyConfig(dir, uniqueRunId('coord'), 2), REDIS_URL);
    const first = topology.startCoordinator();
    topology.startWorker();
    topology.startWorker();
    await workerAtStep(topology, randomStep());
    first.child.kill('SIGKILL');
    await first.exited;
    topology.startCoordinator();
    await finishesLikeReference(topology, 1);
    expect(topology.coordinators[1].output()).toMatch(/watching it again|resuming/);
  });

  it('mat status --stop: every peer stops at a common step with a checkpoint; a new coordinator and workers finish it', async () => {
    // A long lease: the frozen worker below must not be taken for dead.
    topology = new Topology(tinyConfig(dir, uniqueRunId('stop'), 2), REDIS_URL, { leaseMs: 20000 });
    topology.startCoordinator();
    topology.startWorker();
    topology.startWorker();
    await workerAtStep(topology, randomStep());
    // Freeze one worker (the other then waits for it) until the coordinator has taken the stop request, so
    // that a loaded machine cannot finish the 20 steps before the request arrives.
    const frozen = topology.workers[0].child;
    frozen.kill('SIGSTOP');
    let asked: Awaited<ReturnType<typeof runMat>>;
    try {
      asked = await runMat([
        'status',
        topology.config.name,
        '--stop',
        '--redis-url',
        REDIS_URL,
        '--queue-prefix',
        topology.prefix,
      ]);
      await waitFor(
        async () => (await topology!.store.readState())?.stopRequested === true,
        'the coordinator to record the stop request',
      );
    } finally {
      frozen.kill('SIGCONT');
    }
    expect(asked.output).toMatch(/asked run .* to stop/);
    expect(await topology.coordinators[0].exited).toBe(0);
    expect(topology.coordinators[0].output()).toMatch(/: stopped \(/);
    await Promise.all(topology.workers.map((w) => w.exited));
    const state = (await topology.store.readState())!;
    expect(state.status).toBe('stopped');
    expect(state.checkpointStep).toBe(state.pauseAt);
    expect(checkpointState(topology.config).step).toBe(state.pauseAt);
    expect(state.pauseAt).toBeLessThan(20);

    topology.startCoordinator();
    topology.startWorker();
    topology.startWorker();
    await finishesLikeReference(topology, 1);
  });

  it('Redis restarted mid-run (without persistence): the coordinator registers the run again, it resumes', async () => {
    const port = await freePort();
    await startRedisServer(port);
    try {
      topology = new Topology(tinyConfig(dir, uniqueRunId('redis'), 2), `redis://127.0.0.1:${port}`);
      topology.startCoordinator();
      topology.startWorker();
      topology.startWorker();
      await workerAtStep(topology, Math.max(6, randomStep()));
      stopRedisServer(port);
      await new Promise((r) => setTimeout(r, 500));
      await startRedisServer(port);
      await finishesLikeReference(topology);
      expect(topology.coordinators[0].output()).toMatch(/gone from Redis/);
    } finally {
      await topology?.close();
      topology = undefined;
      stopRedisServer(port);
    }
  });
});
