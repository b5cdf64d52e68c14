import { learningRateAt, parseRunConfig, RunSchedule } from '@mat/core';

describe('RunSchedule: one place for when a run steps, checkpoints, evaluates and ends', () => {
  const schedule = (train: object, evaluation: object = {}, stepsPerEpoch = 10) =>
    new RunSchedule(parseRunConfig({ train, eval: evaluation }), stepsPerEpoch);

  it('spans epochs × steps per epoch; train.maxSteps ends the run sooner but not the learning-rate schedule', () => {
    const s = schedule({ epochs: 3, maxSteps: 25 });
    expect(s).toMatchObject({ totalSteps: 30, lastStep: 25, stepsPerEpoch: 10 });
    expect(schedule({ epochs: 3, maxSteps: 99 }).lastStep).toBe(30);
    const config = parseRunConfig({ optim: { lr: 0.1, schedule: { type: 'cosine' } } });
    const cosine = new RunSchedule(config, 10);
    for (const index of [0, 3, 9])
      expect(cosine.learningRate(index)).toBe(learningRateAt(0.1, config.optim.schedule, index, 10));
  });

  it('counts steps done: step 10 is the last of epoch 0; index 10 is the first batch of epoch 1', () => {
    const s = schedule({ epochs: 2 });
    expect([1, 10, 11, 20].map((d) => s.epochOf(d))).toEqual([0, 0, 1, 1]);
    expect(s.batchOf(9)).toEqual({ epoch: 0, index: 9 });
    expect(s.batchOf(10)).toEqual({ epoch: 1, index: 0 });
  });

  it('evaluates at epoch ends before the last step; checkpoints every K steps, there and at the end', () => {
    const s = schedule({ epochs: 3, checkpointEvery: 4 });
    const steps = Array.from({ length: 31 }, (_, d) => d);
    expect(steps.filter((d) => s.epochEvalDue(d))).toEqual([10, 20]);
    expect(steps.filter((d) => s.checkpointDue(d))).toEqual([4, 8, 10, 12, 16, 20, 24, 28, 30]);
    const quiet = schedule({ epochs: 3, maxSteps: 15 }, { everyEpoch: false });
    expect(steps.filter((d) => quiet.epochEvalDue(d))).toEqual([]);
    expect(steps.filter((d) => quiet.checkpointDue(d))).toEqual([15]);
  });

  it('keeps the checkpoints at the end of train.keepEpochs: taken there, never pruned', () => {
    const s = schedule({ epochs: 4, keepEpochs: [1, 3, 9] }, { everyEpoch: false });
    expect([...s.keptSteps]).toEqual([10, 30]); // epoch 9 is past the run's end
    const steps = Array.from({ length: 41 }, (_, d) => d);
    expect(steps.filter((d) => s.checkpointDue(d))).toEqual([10, 30, 40]);
    expect(schedule({ epochs: 4, keepEpochs: [3], maxSteps: 25 }).keptSteps).toEqual(new Set());
    expect(schedule({ epochs: 2 }).keptSteps).toEqual(new Set());
  });

  it('refuses a run without a whole batch per epoch', () => {
    expect(() => schedule({}, {}, 0)).toThrow(/stepsPerEpoch must be a positive integer, got 0/);
  });
});
