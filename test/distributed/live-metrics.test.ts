import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadRunData } from '../../packages/cli/src/report/run-data';
import { REDIS_URL, uniqueRunId } from '../exchange/redis-helpers';
import { assertBuilt, runMat, tinyConfig, waitFor } from './helpers';
import { Topology } from './topology';

// Several processes per test: generous under a loaded CI machine (times are never asserted).
jest.setTimeout(300000);

type Line = { type: string; step: number; final?: boolean; peers: Array<{ peer: number }> };

function readLines(file: string): Line[] {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Line);
}

// Needs Redis on 127.0.0.1:6379 (scripts/ensure-redis.sh) and the Fashion-MNIST files.
describe('metrics.jsonl of a Redis run (mat coordinator + 2 mat workers)', () => {
  let dir: string;
  let topology: Topology | undefined;
  beforeAll(() => {
    assertBuilt();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mat-live-metrics-'));
  });
  afterEach(async () => {
    await topology?.close();
    topology = undefined;
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('gains step lines while the run goes on; the final file is one line per step and the final evaluation', async () => {
    const config = tinyConfig(dir, uniqueRunId('live'), 2);
    const runDir = path.join(dir, config.name);
    const file = path.join(runDir, 'metrics.jsonl');
    // Long leases: the worker held still below keeps its slot (no rollback while it is stopped).
    topology = new Topology(config, REDIS_URL, { leaseMs: 600000 });
    const coordinator = topology.startCoordinator();
    topology.startWorker();
    topology.startWorker();

    // One worker is stopped (SIGSTOP) after 3 steps, so the run cannot end before the file is looked at.
    const t = topology;
    const pid = await waitFor(async () => {
      for (const s of (await t.peerSteps()).values()) if (s.step >= 3 && s.pid) return s.pid;
      return undefined;
    }, 'a peer at step 3');
    const held = topology.workers.find((w) => w.child.pid === pid);
    if (!held) throw new Error(`pid ${pid} is not one of this test's workers`);
    held.child.kill('SIGSTOP');
    try {
      const live = await waitFor(() => {
        const steps = readLines(file).filter((l) => l.type === 'step');
        return steps.length >= 2 && steps;
      }, 'step lines in metrics.jsonl');
      expect((await topology.store.readState())?.status).toBe('running');
      expect(fs.existsSync(path.join(runDir, 'summary.json'))).toBe(false);
      expect(live.map((l) => l.step)).toEqual(live.map((_, i) => i + 1));
      expect(live.every((l) => l.peers.map((p) => p.peer).join() === '0,1')).toBe(true);
      expect(live.length).toBeLessThan(20);
    } finally {
      held.child.kill('SIGCONT');
    }

    const code = await coordinator.exited;
    expect({ code, logs: code === 0 ? '' : topology.logs() }).toEqual({ code: 0, logs: '' });
    const lines = readLines(file);
    const summary = JSON.parse(fs.readFileSync(path.join(runDir, 'summary.json'), 'utf8'));
    const steps = Array.from({ length: 20 }, (_, i) => `step:${i + 1}`);
    expect(lines.map((l) => `${l.type}:${l.step}${l.final ? ':final' : ''}`)).toEqual([
      ...steps,
      'eval:20:final',
    ]);
    expect(lines[20]).toEqual({ type: 'eval', ...summary.final });

    // What mat report reads, and mat report itself.
    const data = loadRunData(runDir);
    expect(data.steps.map((s) => s.step)).toEqual(steps.map((_, i) => i + 1));
    expect(data.evals).toEqual([{ type: 'eval', ...summary.final }]);
    const report = await runMat(['report', runDir]);
    expect({ code: report.code, output: report.code === 0 ? '' : report.output }).toEqual({
      code: 0,
      output: '',
    });
    const json = JSON.parse(fs.readFileSync(path.join(runDir, 'report.json'), 'utf8'));
    expect(json.run.stepsDone).toBe(20);
    expect(json.finalEval.step).toBe(20);
  });
});
