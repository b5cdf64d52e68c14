import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { REDIS_URL, uniqueRunId } from '../exchange/redis-helpers';
import {
  assertBuilt,
  runMat,
  spawnMat,
  tinyConfig,
  trainProcessesArgs,
  waitFor,
  writeConfig,
} from './helpers';
import { Topology } from './topology';

jest.setTimeout(300000);

/** lr 1e6: the first update blows the weights up, and the peers diverge within a few steps. */
const diverging = { optim: { lr: 1e6, schedule: { type: 'constant' as const } } };
const DIVERGED = /peer (\d) diverged at step (\d+): its [a-z ]+ is not finite/;

function summaryOf(runDir: string): { error?: string; final?: unknown } {
  return JSON.parse(fs.readFileSync(path.join(runDir, 'summary.json'), 'utf8'));
}

/** The child processes of `pid` (the peers of `mat train --runtime processes`). */
function childrenOf(pid: number): number[] {
  const out = execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' });
  return out
    .split('\n')
    .map((l) => Number(l.trim()))
    .filter((n) => n > 0);
}

/**
 * Failure semantics end to end: a diverging peer ends the run as failed, naming peer and step, in every
 * runtime (it used to hang forever: its partners rejected its non-finite messages and waited); a stop
 * always ends a run, also one whose peers wait for a partner that hangs.
 */
describe('divergence and stops', () => {
  let dir: string;
  let topology: Topology | undefined;
  beforeAll(() => {
    assertBuilt();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mat-divergence-'));
  });
  afterEach(async () => {
    await topology?.close();
    topology = undefined;
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it.each(['in-process', 'processes'])(
    'mat train --runtime %s: a diverging peer fails the run with exit code 1, naming peer and step',
    async (runtime) => {
      const config = tinyConfig(dir, `diverge-${runtime}`, 2, diverging);
      const { code, output } = await runMat(['train', '--config', writeConfig(config), '--runtime', runtime]);
      expect({ code, error: /^error: the run failed: .*$/m.exec(output)?.[0] }).toEqual({
        code: 1,
        error: expect.stringMatching(DIVERGED),
      });
      const summary = summaryOf(path.join(dir, config.name));
      expect(summary.error).toMatch(DIVERGED);
      expect(summary.final).toBeUndefined();
    },
  );

  it('mat train --runtime processes --on-divergence rollback: rolls back once, then fails at the same step', async () => {
    const config = tinyConfig(dir, 'diverge-rollback', 2, diverging);
    const { code, output } = await runMat([
      'train',
      '--config',
      writeConfig(config),
      '--runtime',
      'processes',
      '--on-divergence',
      'rollback',
      '--checkpoint-every',
      '1',
    ]);
    expect(code).toBe(1);
    expect(output).toMatch(
      /warning: peer \d diverged at step \d+: .*rolling back to the checkpoint at step \d+/,
    );
    expect(output).toMatch(/error: the run failed: .*diverged again after a rollback/);
  });

  it('coordinator + 2 Redis workers: the run fails (state, summary.json, exit codes) instead of hanging', async () => {
    topology = new Topology(tinyConfig(dir, uniqueRunId('diverge'), 2, diverging), REDIS_URL);
    const coordinator = topology.startCoordinator();
    const workers = [topology.startWorker(), topology.startWorker()];
    const code = await coordinator.exited;
    expect({ code, error: /^error: run .* failed: .*$/m.exec(coordinator.output())?.[0] }).toEqual({
      code: 1,
      error: expect.stringMatching(DIVERGED),
    });
    const state = await topology.store.readState();
    expect(state?.status).toBe('failed');
    expect(state?.error).toMatch(DIVERGED);
    expect(summaryOf(path.join(topology.config.outDir, topology.config.name)).error).toMatch(DIVERGED);
    expect(await Promise.all(workers.map((w) => w.exited))).toEqual([1, 1]);
  });

  it('SIGTERM to mat train --runtime processes whose peer hangs: it ends after --stop-grace at the last checkpoint', async () => {
    const config = tinyConfig(dir, 'hung-peer', 2, {
      train: { epochs: 1, batchSize: 8, maxSteps: 20, checkpointEvery: 2 },
    });
    const run = spawnMat(trainProcessesArgs(config, '--stop-grace', '3'));
    await waitFor(() => /"type":"progress","step":[3-9]/.test(run.output()), 'step 3');
    const peers = childrenOf(run.child.pid!);
    expect(peers).toHaveLength(2);
    // One peer hangs: the other waits for its messages forever.
    process.kill(peers[0], 'SIGSTOP');
    run.child.kill('SIGTERM');
    const code = await run.exited;
    expect({ code, output: run.output() }).toEqual({
      code: 0,
      output: expect.stringMatching(/did not reach a common step within 3 s/),
    });
    for (const pid of peers) expect(() => process.kill(pid, 0)).toThrow();
  });

  it('mat status --stop while a worker hangs: the run stops at its last checkpoint', async () => {
    topology = new Topology(tinyConfig(dir, uniqueRunId('stop-hung'), 2), REDIS_URL);
    const coordinator = topology.startCoordinator();
    const workers = [topology.startWorker(), topology.startWorker()];
    const t = topology;
    await waitFor(async () => [...(await t.peerSteps()).values()].some((s) => s.step >= 5), 'step 5');
    process.kill(workers[0].child.pid!, 'SIGSTOP');
    try {
      const stop = await runMat([
        'status',
        t.config.name,
        '--stop',
        '--redis-url',
        REDIS_URL,
        '--queue-prefix',
        t.prefix,
      ]);
      expect(stop.code).toBe(0);
      expect({ code: await coordinator.exited, log: coordinator.output() }).toEqual({
        code: 0,
        log: expect.stringMatching(/run \S+: stopped/),
      });
      expect((await t.store.readState())?.status).toBe('stopped');
      expect(await workers[1].exited).toBe(0);
    } finally {
      process.kill(workers[0].child.pid!, 'SIGCONT');
    }
  });
});
