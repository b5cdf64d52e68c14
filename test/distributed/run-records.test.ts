import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { RunConfig } from '@mat/core';
import { REDIS_URL, uniqueRunId } from '../exchange/redis-helpers';
import { assertBuilt, runMat, tinyConfig, writeConfig } from './helpers';
import { Topology } from './topology';

// Several processes per test: generous under a loaded CI machine (times are never asserted).
jest.setTimeout(600000);

interface Records {
  metrics: unknown[];
  summary: Record<string, unknown>;
}

/** Fields that depend on timing: how long a step, an exchange or the run took. */
const TIMING = new Set(['seconds', 'exchangeSeconds', 'imagesPerSecond', 'timing']);
/** What happened on the way (checked on its own below: a loaded machine may make a worker miss its lease). */
const HISTORY = new Set(['history']);
/** Fields that say where the run ran (the runtime, its backend, its directory). */
const WHERE = new Set(['metadata', 'runDir']);

/** `value` without the timing fields and the fields saying where it ran, at any depth. */
function withoutTiming(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutTiming);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([key]) => !TIMING.has(key) && !WHERE.has(key) && !HISTORY.has(key))
      .map(([key, v]) => [key, withoutTiming(v)]),
  );
}

function records(config: RunConfig): Records {
  const runDir = path.join(config.outDir, config.name);
  const metrics = fs
    .readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as unknown);
  const summary = JSON.parse(fs.readFileSync(path.join(runDir, 'summary.json'), 'utf8'));
  return { metrics, summary };
}

async function train(config: RunConfig, runtime: 'in-process' | 'processes'): Promise<Records> {
  const { code, output } = await runMat(['train', '--config', writeConfig(config), '--runtime', runtime]);
  expect({ code, output: code === 0 ? '' : output }).toEqual({ code: 0, output: '' });
  return records(config);
}

/**
 * One config, every runtime: the in-process trainer, one process per peer (`--runtime processes`) and a
 * coordinator with two Redis workers write the same metrics.jsonl and summary.json, apart from timing fields
 * and the fields that say where the run ran. They share one run lifecycle (@mat/core run/: directory,
 * schedule, step aggregator, summary).
 */
describe('run records are the same in every runtime', () => {
  let dir: string;
  let topology: Topology | undefined;
  beforeAll(() => {
    assertBuilt();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mat-records-'));
  });
  afterEach(async () => {
    await topology?.close();
    topology = undefined;
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('in-process, processes and coordinator + 2 Redis workers: equal metrics.jsonl and summary.json', async () => {
    const config = (label: string) => tinyConfig(path.join(dir, label), uniqueRunId('records'), 2);
    const inProcess = await train(config('in-process'), 'in-process');
    const processes = await train(config('processes'), 'processes');

    const distributed = config('redis');
    topology = new Topology(distributed, REDIS_URL);
    const coordinator = topology.startCoordinator();
    topology.startWorker();
    topology.startWorker();
    const code = await coordinator.exited;
    expect({ code, logs: code === 0 ? '' : topology.logs() }).toEqual({ code: 0, logs: '' });
    const redis = records(distributed);
    // The coordinator prints progress (the first and the last step at least, never one line per entry),
    // the final table and where the time went.
    const printed = coordinator.output();
    const progress = printed.split('\n').filter((l) => /\[coordinator\] step \d+\/20 /.test(l));
    expect(progress.length).toBeGreaterThanOrEqual(2);
    expect(progress.length).toBeLessThan(20);
    expect(progress[0]).toMatch(
      /step 1\/20 \(5%\) ep 1 lr \S+ \| p0 loss [\d.]+ adv [\d.]+% \| p1 .* s\/step, ETA /,
    );
    expect(progress.at(-1)).toMatch(/step 20\/20 \(100%\)/);
    expect(printed).toMatch(/final evaluation at step 20:\n\s*peer 0: clean [\d.]+%\s+robust [\d.]+%/);
    expect(printed).toMatch(/time: training \S+, evaluation \S+, waiting for workers \S+, recovery \S+/);

    // 20 step lines and the final evaluation; the process runtimes also time the exchange.
    expect(inProcess.metrics.map((l) => (l as { type: string }).type)).toEqual([
      ...Array<string>(20).fill('step'),
      'eval',
    ]);
    for (const line of [processes.metrics[0], redis.metrics[0]])
      expect(line).toMatchObject({ peers: [{ exchangeSeconds: expect.any(Number) }, expect.anything()] });
    expect(inProcess.summary).toMatchObject({ stepsDone: 20, metadata: { runtime: 'in-process' } });
    expect(processes.summary.metadata).toMatchObject({ runtime: 'processes' });
    expect(redis.summary.metadata).toMatchObject({ runtime: 'redis' });

    // Every runtime splits its time into phases that add up to its seconds.
    for (const { summary } of [inProcess, processes, redis]) {
      const timing = summary.timing as Record<string, number>;
      const sum = Object.values(timing).reduce((a, b) => a + b, 0);
      expect(sum).toBeCloseTo(summary.seconds as number, 6);
      expect(timing.trainingSeconds).toBeGreaterThan(0);
      expect(timing.evaluationSeconds).toBeGreaterThan(0);
    }
    // Nothing to recover from in the process runtimes. A loaded machine can make the distributed run's
    // workers miss their lease at the start (they are lost and the run restarts from the last checkpoint,
    // to the same weights): its history must then say so, and be the others' when that did not happen.
    const clean = { generations: 1, rollbacks: 0, lostWorkers: 0, stepsRedone: 0 };
    expect(inProcess.summary.history).toEqual(clean);
    expect(processes.summary.history).toEqual(clean);
    const h = redis.summary.history as typeof clean;
    if (h.lostWorkers === 0) expect(h).toEqual(clean);
    else expect(h.generations).toBeGreaterThanOrEqual(2);
    expect(redis.summary.history).toEqual({ ...h, rollbacks: 0 });
    // Only the coordinator waits for workers to join.
    expect((redis.summary.timing as Record<string, number>).waitingSeconds).toBeGreaterThan(0);

    const expected = withoutTiming(inProcess);
    expect(withoutTiming(processes)).toEqual(expected);
    expect(withoutTiming(redis)).toEqual(expected);
  });

  it('with evaluations at epoch ends: in-process and processes write equal records', async () => {
    // 2 epochs of 5 steps, evaluated after step 5 and at the end.
    const config = (label: string) =>
      tinyConfig(path.join(dir, label), `epochs-${label}`, 2, {
        data: { dataset: 'fashion-mnist', trainSubset: 40, testSubset: 16 },
        train: { epochs: 2, batchSize: 8, checkpointEvery: 0 },
        eval: { everyEpoch: true, batchSize: 16, attack: { eps: 0.1, stepSize: 0.05, steps: 1 } },
      });
    const inProcess = await train(config('in-process'), 'in-process');
    const processes = await train(config('processes'), 'processes');
    const kinds = (r: Records) =>
      r.metrics.map((l) => {
        const line = l as { type: string; step: number; epoch: number; final?: boolean };
        return `${line.type}:${line.step}:${line.epoch}${line.final ? ':final' : ''}`;
      });
    expect(kinds(inProcess)).toEqual([
      ...[1, 2, 3, 4, 5].map((s) => `step:${s}:0`),
      'eval:5:0',
      ...[6, 7, 8, 9, 10].map((s) => `step:${s}:1`),
      'eval:10:1:final',
    ]);
    expect(withoutTiming(processes)).toEqual(withoutTiming(inProcess));
  });
});
