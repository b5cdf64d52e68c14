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
});
