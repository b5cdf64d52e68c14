import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { REDIS_URL, uniqueRunId } from '../exchange/redis-helpers';
import { assertBuilt, referenceState, tinyConfig, waitFor, type MatProcess } from './helpers';
import { Topology } from './topology';

// Several processes per test: generous under a loaded CI machine (times are never asserted).
jest.setTimeout(400000);

/**
 * Evaluations are never lost: a worker killed in the middle of one leaves its job to another worker (the
 * job's lock lasts one lease and is renewed by the heartbeat thread), and the run ends with every
 * scheduled evaluation, with the numbers of an undisturbed run.
 */
describe('evaluations of a distributed run', () => {
  let dir: string;
  let topology: Topology | undefined;
  beforeAll(() => {
    assertBuilt();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mat-lost-eval-'));
  });
  afterEach(async () => {
    await topology?.close();
    topology = undefined;
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const summaryOf = (runDir: string) =>
    JSON.parse(fs.readFileSync(path.join(runDir, 'summary.json'), 'utf8')) as {
      stepsDone: number;
      final?: { peers: Array<{ peer: number }> };
      missingEvaluations?: unknown[];
    };

  it('kill -9 of the worker running a final evaluation: another worker runs it; same results as undisturbed', async () => {
    // A test set large enough that an evaluation lasts a while (the kill lands in the middle of it).
    const config = tinyConfig(dir, uniqueRunId('evalkill'), 2, {
      data: { dataset: 'fashion-mnist', trainSubset: 160, testSubset: 600 },
    });
    topology = new Topology(config, REDIS_URL);
    const coordinator = topology.startCoordinator();
    for (let i = 0; i < 3; i++) topology.startWorker(); // two peers and a spare
    const started = /evaluating peer (\d+) of \S+ at step 20\b/;
    const victim = await waitFor(
      () => topology!.workers.find((w) => started.test(w.output())),
      'a worker to start a final evaluation',
      240000,
    );
    victim.child.kill('SIGKILL');
    const peer = Number(started.exec(victim.output())![1]);
    const code = await waitFor(
      async () => (coordinator.child.exitCode === null ? undefined : { code: await coordinator.exited }),
      'the run to end after the evaluating worker was killed',
      240000,
    ).catch((err: Error) => ({ code: `${err.message}` }));
    expect({ ...code, logs: code.code === 0 ? '' : topology.logs() }).toEqual({ code: 0, logs: '' });
    // The killed worker's job was run again, by another worker.
    const others: MatProcess[] = topology.workers.filter((w) => w !== victim);
    const rerun = new RegExp(`evaluating peer ${peer} of \\S+ at step 20\\b`);
    expect(others.some((w) => rerun.test(w.output()))).toBe(true);

    const summary = summaryOf(path.join(dir, config.name));
    await referenceState(config);
    const reference = summaryOf(path.join(dir, `${config.name}-reference`));
    expect(summary.stepsDone).toBe(20);
    expect(summary.missingEvaluations).toBeUndefined();
    expect(summary.final?.peers).toHaveLength(2);
    expect(summary.final?.peers).toEqual(reference.final?.peers);
  });

  it('no idle worker during training: epoch evaluations run after it, their checkpoint kept until then', async () => {
    // Two epochs of 20 steps, an evaluation after the first; checkpoints every 4 steps, of which the newest
    // three are kept — the one at step 20 would be pruned at step 32, long before a worker is free.
    const config = tinyConfig(dir, uniqueRunId('epocheval'), 2, {
      train: { epochs: 2, batchSize: 8, checkpointEvery: 4 },
      eval: { everyEpoch: true, batchSize: 16, attack: { eps: 0.1, stepSize: 0.05, steps: 1 } },
    });
    topology = new Topology(config, REDIS_URL);
    const coordinator = topology.startCoordinator();
    topology.startWorker();
    topology.startWorker();
    const code = await coordinator.exited;
    expect({ code, logs: code === 0 ? '' : topology.logs() }).toEqual({ code: 0, logs: '' });

    const runDir = path.join(dir, config.name);
    await referenceState(config);
    const refDir = path.join(dir, `${config.name}-reference`);
    const summary = summaryOf(runDir);
    expect(summary.stepsDone).toBe(40);
    expect(summary.missingEvaluations).toBeUndefined();
    expect(summary.final?.peers).toEqual(summaryOf(refDir).final?.peers);
    // The epoch evaluation is in metrics.jsonl, with the numbers of the in-process run's.
    const evals = evalLines(runDir);
    expect(evals.map((e) => [e.step, e.final])).toEqual([
      [20, false],
      [40, true],
    ]);
    expect(evals[0].peers).toEqual(evalLines(refDir)[0].peers);
    // Once evaluated, the checkpoint kept for it is pruned like the others.
    expect(fs.readdirSync(path.join(runDir, 'checkpoints')).filter((d) => d.startsWith('step-'))).toEqual([
      'step-00000032',
      'step-00000036',
      'step-00000040',
    ]);
  });
});

function evalLines(runDir: string): Array<{ step: number; final: boolean; peers: unknown[] }> {
  return fs
    .readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { type: string; step: number; final: boolean; peers: unknown[] })
    .filter((l) => l.type === 'eval');
}
