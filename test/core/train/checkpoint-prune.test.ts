import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  commitCheckpoint,
  parseRunConfig,
  peerFileName,
  pruneCheckpoints,
  RunSchedule,
  stepDirName,
} from '@mat/core';

/** Pruning keeps the newest checkpoints and those an evaluation has yet to read (pinned). */
describe('checkpoint pruning', () => {
  let runDir: string;
  beforeEach(() => {
    runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mat-prune-'));
  });
  afterEach(() => fs.rmSync(runDir, { recursive: true, force: true }));

  /** Writes both peers' files of `step` (their content does not matter to a commit) and commits. */
  function commit(step: number, pinned?: Set<number>): void {
    const dir = path.join(runDir, 'checkpoints', stepDirName(step));
    fs.mkdirSync(dir, { recursive: true });
    for (const peer of [0, 1]) fs.writeFileSync(path.join(dir, peerFileName(peer)), 'x');
    commitCheckpoint(runDir, { step, seed: 1, peers: 2, arch: 'fmnist-cnn' }, { pinned });
  }
  const steps = () =>
    fs
      .readdirSync(path.join(runDir, 'checkpoints'))
      .filter((d) => d.startsWith('step-'))
      .map((d) => Number(d.slice(5)));

  it('a pinned checkpoint outlives the newest three; unpinned, the next prune removes it', () => {
    for (const step of [4, 8, 12, 16]) commit(step);
    expect(steps()).toEqual([8, 12, 16]);
    commit(20, new Set([8]));
    commit(24, new Set([8]));
    expect(steps()).toEqual([8, 16, 20, 24]);
    pruneCheckpoints(runDir);
    expect(steps()).toEqual([16, 20, 24]);
  });

  it('RunSchedule.epochEvalSteps: every epoch end before the last step, with eval.everyEpoch', () => {
    const config = (everyEpoch: boolean, maxSteps?: number) =>
      parseRunConfig({ train: { epochs: 3, maxSteps }, eval: { everyEpoch } });
    expect(new RunSchedule(config(true), 20).epochEvalSteps()).toEqual([20, 40]);
    expect(new RunSchedule(config(true, 45), 20).epochEvalSteps()).toEqual([20, 40]);
    expect(new RunSchedule(config(true, 40), 20).epochEvalSteps()).toEqual([20]);
    expect(new RunSchedule(config(false), 20).epochEvalSteps()).toEqual([]);
  });
});
