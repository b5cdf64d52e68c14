import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseRunConfig, RunDirectory, RunExistsError, type MetricsLine } from '@mat/core';

describe('RunDirectory: the files of a run', () => {
  let root: string;
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'mat-run-dir-'));
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  const step = (s: number, loss = 1): MetricsLine => ({
    type: 'step',
    step: s,
    totalSteps: 10,
    epoch: 0,
    lr: 0.1,
    seconds: 0.5,
    peers: [{ peer: 0, loss, base: loss, distill: 0, advAccuracy: 0.5 }],
  });

  it('is <outDir>/<name>; config.json, summary.json and coordinator.json are written whole, nothing else left', () => {
    const config = parseRunConfig({ name: 'r1', outDir: root });
    const dir = RunDirectory.of(config);
    expect(dir.path).toBe(path.join(root, 'r1'));
    dir.writeConfig(config);
    dir.writeCoordinatorRecord({ runId: 'run-a', generation: 3 });
    dir.writeSummary({
      metadata: {},
      runDir: dir.path,
      stepsDone: 1,
      totalSteps: 1,
      stoppedEarly: false,
      seconds: 1,
      imagesPerSecond: 1,
    });
    expect(fs.readdirSync(dir.path).sort()).toEqual(['config.json', 'coordinator.json', 'summary.json']);
    expect(parseRunConfig(dir.readConfig())).toEqual(config);
    expect(dir.readCoordinatorRecord()).toEqual({ runId: 'run-a', generation: 3 });
    expect(JSON.parse(fs.readFileSync(dir.summaryFile, 'utf8')).stepsDone).toBe(1);
  });

  it('a new run over another run is an error naming the directory, its files and the ways out', () => {
    const dir = new RunDirectory(path.join(root, 'r2'));
    dir.prepareNew({ howToContinue: 'x' });
    expect(fs.existsSync(dir.path)).toBe(true);
    dir.writeConfig(parseRunConfig({}));
    fs.mkdirSync(path.join(dir.checkpointsDir, 'step-00000004'), { recursive: true });
    let error: unknown;
    try {
      dir.prepareNew({ howToContinue: 'continue it with --resume, or pass --overwrite' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(RunExistsError);
    expect((error as Error).message).toBe(
      `${dir.path} already holds a run (checkpoints, config.json): continue it with --resume, or pass --overwrite`,
    );
  });

  it('overwrite removes the run files and only them', () => {
    const dir = new RunDirectory(path.join(root, 'r3'));
    dir.writeConfig(parseRunConfig({}));
    dir.writeMetrics([step(1)]);
    fs.mkdirSync(path.join(dir.checkpointsDir, 'step-00000004'), { recursive: true });
    for (const f of ['eval-step4-pgd-linf.json', 'report.html', 'notes.txt'])
      fs.writeFileSync(path.join(dir.path, f), '{}');
    expect(dir.runFiles()).toEqual([
      'checkpoints',
      'config.json',
      'eval-step4-pgd-linf.json',
      'metrics.jsonl',
      'report.html',
    ]);
    dir.prepareNew({ overwrite: true, howToContinue: '' });
    expect(fs.readdirSync(dir.path)).toEqual(['notes.txt']);
  });

  it('a resumed run keeps the metrics lines up to its checkpoint, one per step, and drops a line cut short', () => {
    const dir = new RunDirectory(path.join(root, 'r4'));
    dir.writeMetrics([step(1), step(2), step(3), step(2, 7)]);
    fs.appendFileSync(dir.metricsFile, '{"type":"step","st');
    const bad: string[] = [];
    dir.keepMetricsUpTo(2, (line) => bad.push(line));
    expect(bad).toEqual(['{"type":"step","st']);
    expect(dir.readMetrics().map((l) => [l.step, l.type === 'step' && l.peers[0].loss])).toEqual([
      [1, 1],
      [2, 7],
    ]);
    const appender = dir.openMetrics();
    appender.append(step(3));
    appender.close();
    expect(dir.readMetrics().map((l) => l.step)).toEqual([1, 2, 3]);
  });
});
