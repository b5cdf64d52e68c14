import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Redis } from 'ioredis';
import { LiveMetrics, type MetricsLine } from '@mat/coordinator';
import { parseRunConfig, RunSchedule } from '@mat/core';
import { RunStore } from '@mat/exchange';
import { loadRunData } from '../../packages/cli/src/report/run-data';
import { deleteRun, newRedis, uniqueRunId } from '../exchange/redis-helpers';

// Needs Redis on 127.0.0.1:6379 (scripts/ensure-redis.sh).
describe('LiveMetrics: metrics.jsonl of a distributed run, kept during the run', () => {
  let redis: Redis;
  let store: RunStore;
  let runDir: string;
  // 2 epochs of 10 steps: the run ends after step 20.
  const schedule = new RunSchedule(parseRunConfig({ train: { epochs: 2 } }), 10);
  const shape = { peers: 2, schedule };

  beforeEach(() => {
    redis = newRedis();
    store = new RunStore(redis, uniqueRunId('live'));
    runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mat-live-metrics-'));
    fs.writeFileSync(path.join(runDir, 'config.json'), '{}');
  });
  afterEach(async () => {
    await deleteRun(redis, store.runId);
    redis.disconnect();
    fs.rmSync(runDir, { recursive: true, force: true });
  });

  /** One peer's step entry as a worker writes it; `loss` tells generations apart. */
  const step = (peer: number, s: number, generation: number | undefined, loss: number) =>
    store.addMetric({
      type: 'step',
      peer,
      step: s,
      ...(generation === undefined ? {} : { generation }),
      loss,
      base: loss / 2,
      distill: loss / 4,
      advAccuracy: 0.5,
      lr: 0.1,
      stepSeconds: 0.2 + peer,
      exchangeSeconds: 0.01,
    });
  const evaluation = (peer: number, s: number, final: boolean) =>
    store.addMetric({
      type: 'eval',
      peer,
      step: s,
      count: 16,
      cleanAccuracy: 0.5,
      robustAccuracy: 0.25,
      final,
    });
  const generation = (g: number, from: number) =>
    store.addMetric({ type: 'run', event: 'generation', generation: g, step: from });
  const fileLines = (): MetricsLine[] =>
    fs
      .readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as MetricsLine);
  const stepsOf = (lines: MetricsLine[]) => lines.filter((l) => l.type === 'step').map((l) => l.step);

  it('appends a step line once every peer has reported the step, an eval line once every result is in', async () => {
    const live = new LiveMetrics(store, runDir, shape);
    await live.open({ fresh: true });
    await generation(1, 0);
    await step(0, 1, 1, 2.0);
    expect(await live.poll()).toBe(0);
    expect(fileLines()).toEqual([]);
    await step(1, 1, 1, 2.5);
    await step(1, 2, 1, 1.5);
    expect(await live.poll()).toBe(1);
    expect(fileLines()).toEqual([
      {
        type: 'step',
        step: 1,
        totalSteps: 20,
        epoch: 0,
        lr: 0.1,
        seconds: 1.2,
        peers: [
          { peer: 0, loss: 2, base: 1, distill: 0.5, advAccuracy: 0.5, exchangeSeconds: 0.01 },
          { peer: 1, loss: 2.5, base: 1.25, distill: 0.625, advAccuracy: 0.5, exchangeSeconds: 0.01 },
        ],
      },
    ]);
    await step(0, 2, 1, 1.0);
    await evaluation(1, 10, false);
    await evaluation(0, 10, false);
    await live.poll();
    const lines = fileLines();
    expect(stepsOf(lines)).toEqual([1, 2]);
    expect(lines[2]).toEqual({
      type: 'eval',
      step: 10,
      epoch: 0,
      final: false,
      peers: [
        { peer: 0, count: 16, cleanAccuracy: 0.5, robustAccuracy: 0.25 },
        { peer: 1, count: 16, cleanAccuracy: 0.5, robustAccuracy: 0.25 },
      ],
    });
  });

  it('a NaN loss (null in the stream, as JSON writes it) stays NaN in the file, never 0', async () => {
    const live = new LiveMetrics(store, runDir, shape);
    await live.open({ fresh: true });
    await step(0, 1, 1, NaN);
    await step(1, 1, 1, 2);
    await live.poll();
    const text = fs.readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8');
    expect(text).toContain('{"peer":0,"loss":null,"base":null,"distill":null,"advAccuracy":0.5');
    expect(loadRunData(runDir).steps[0].peers.map((p) => p.loss)).not.toContain(0);
  });

  it('reads the stream from the last entry it saw, not from its start', async () => {
    const live = new LiveMetrics(store, runDir, shape);
    await live.open({ fresh: true });
    await step(0, 1, 1, 1);
    await step(1, 1, 1, 1);
    const spy = jest.spyOn(redis, 'xrange');
    try {
      await live.poll();
      const last = (await redis.xrevrange(store.keys.metrics, '+', '-', 'COUNT', 1))[0][0];
      await live.poll();
      expect(spy.mock.calls.at(-1)?.slice(0, 2)).toEqual([store.keys.metrics, `(${last}`]);
    } finally {
      spy.mockRestore();
    }
  });

  it('after a rollback appends the re-taken steps again; late entries of the abandoned generation are ignored', async () => {
    const live = new LiveMetrics(store, runDir, shape);
    await live.open({ fresh: true });
    await generation(1, 0);
    for (const s of [1, 2, 3]) for (const p of [0, 1]) await step(p, s, 1, 10 + s);
    await step(0, 4, 1, 14); // peer 1 is lost before its step 4
    await live.poll();
    // Generation 2 restarts every peer from the checkpoint at step 2.
    await generation(2, 2);
    await step(0, 3, 2, 23);
    await step(1, 4, 1, 14); // a message of generation 1 that arrives late
    await step(1, 3, 2, 23);
    await step(0, 4, 2, 24);
    await step(1, 4, 2, 24);
    await live.poll();
    expect(stepsOf(fileLines())).toEqual([1, 2, 3, 3, 4]);
    const losses = (s: number) =>
      loadRunData(runDir)
        .steps.find((r) => r.step === s)!
        .peers.map((p) => p.loss);
    expect([1, 2, 3, 4].map(losses)).toEqual([
      [11, 11],
      [12, 12],
      [23, 23],
      [24, 24],
    ]);
  });

  it('entries without a generation (older workers) count in the newest generation announced', async () => {
    const live = new LiveMetrics(store, runDir, shape);
    await live.open({ fresh: true });
    await generation(1, 0);
    await step(0, 1, undefined, 1);
    await generation(2, 0);
    await step(1, 1, undefined, 2);
    await step(0, 1, undefined, 3);
    await live.poll();
    expect(fileLines().map((l) => l.type === 'step' && l.peers.map((p) => p.loss))).toEqual([[3, 2]]);
  });

  it('a restarted coordinator keeps the file, drops a line cut short, and rebuilds what it missed from the stream', async () => {
    const first = new LiveMetrics(store, runDir, shape);
    await first.open({ fresh: true });
    for (const s of [1, 2]) for (const p of [0, 1]) await step(p, s, 1, s);
    await first.poll();
    // Killed while appending; steps 3 and 4 happen while no coordinator runs.
    fs.appendFileSync(path.join(runDir, 'metrics.jsonl'), '{"type":"step","st');
    for (const s of [3, 4]) for (const p of [0, 1]) await step(p, s, 1, s);
    await step(0, 5, 1, 5);

    const logged: string[] = [];
    const second = new LiveMetrics(store, runDir, shape, (m) => logged.push(m));
    await second.open({ fresh: false });
    expect(stepsOf(fileLines())).toEqual([1, 2, 3, 4]);
    expect(logged.join('\n')).toMatch(/dropped a line that is not JSON/);
    await step(1, 5, 1, 5);
    await second.poll();
    expect(stepsOf(fileLines())).toEqual([1, 2, 3, 4, 5]);
  });

  it('a run that starts from scratch starts an empty file and ignores older stream entries', async () => {
    fs.writeFileSync(path.join(runDir, 'metrics.jsonl'), '{"type":"step","step":9,"peers":[]}\n');
    for (const p of [0, 1]) await step(p, 1, 1, 1);
    const live = new LiveMetrics(store, runDir, shape);
    await live.open({ fresh: true });
    expect(fileLines()).toEqual([]);
    for (const p of [0, 1]) await step(p, 1, 2, 7);
    await live.poll();
    expect(fileLines().map((l) => l.type === 'step' && l.peers[0].loss)).toEqual([7]);
  });

  it('finish: one line per step and evaluation in step order, the final evaluation from the results given', async () => {
    const live = new LiveMetrics(store, runDir, shape);
    await live.open({ fresh: true });
    for (const s of [1, 2, 3]) for (const p of [0, 1]) await step(p, s, 1, s);
    await generation(2, 1);
    for (const s of [2, 3]) for (const p of [0, 1]) await step(p, s, 2, 10 * s);
    await evaluation(0, 3, true);
    await evaluation(1, 3, true);
    await live.poll();
    expect(stepsOf(fileLines())).toEqual([1, 2, 3, 2, 3]);
    const final = {
      step: 3,
      epoch: 0,
      final: true,
      peers: [0, 1].map((peer) => ({ peer, count: 16, cleanAccuracy: 0.75, robustAccuracy: 0.5 })),
    };
    await live.finish(final);
    const lines = fileLines();
    expect(lines.map((l) => `${l.type}:${l.step}`)).toEqual(['step:1', 'step:2', 'step:3', 'eval:3']);
    expect(lines[2].type === 'step' && lines[2].peers[0].loss).toBe(30);
    expect(lines[3]).toEqual({ type: 'eval', ...final });
    // Sealed: nothing is appended after the clean rewrite.
    for (const p of [0, 1]) await step(p, 4, 2, 4);
    expect(await live.poll()).toBe(0);
    expect(fileLines()).toEqual(lines);
  });
});
