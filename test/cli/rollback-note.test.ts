import { parseRunConfig, RunSchedule } from '@mat/core';
import { rollbackNote } from '../../packages/cli/src/commands/rollback-note';

/** The note must say what the schedule does: checked against RunSchedule's own checkpoint decisions. */
function checkpointsBeforeEnd(config: ReturnType<typeof parseRunConfig>, stepsPerEpoch: number): number[] {
  const schedule = new RunSchedule(config, stepsPerEpoch);
  const out: number[] = [];
  for (let s = 1; s < schedule.lastStep; s++) if (schedule.checkpointDue(s)) out.push(s);
  return out;
}

describe('mat coordinator: the note on where a lost worker rolls back to', () => {
  it('epoch checkpoints: it rolls back to the last epoch checkpoint, not to the start', () => {
    const config = parseRunConfig({ train: { epochs: 3, checkpointEvery: 0 }, eval: { everyEpoch: true } });
    expect(checkpointsBeforeEnd(config, 10)).toEqual([10, 20]);
    const note = rollbackNote(config)!;
    expect(note).toMatch(/back to the last epoch checkpoint/);
    expect(note).not.toMatch(/to the start/);
  });

  it('no checkpoint before the end: it rolls back to the start', () => {
    for (const config of [
      parseRunConfig({ train: { epochs: 3, checkpointEvery: 0 }, eval: { everyEpoch: false } }),
      parseRunConfig({ train: { epochs: 1, checkpointEvery: 0 }, eval: { everyEpoch: true } }),
    ]) {
      expect(checkpointsBeforeEnd(config, 10)).toEqual([]);
      expect(rollbackNote(config)).toMatch(/back to the start/);
    }
  });

  it('--checkpoint-every bounds it: no note', () => {
    const config = parseRunConfig({ train: { epochs: 3, checkpointEvery: 5 } });
    expect(checkpointsBeforeEnd(config, 10)[0]).toBe(5);
    expect(rollbackNote(config)).toBeUndefined();
  });
});
