import { parseRunConfig, RunSchedule, StepAggregator, type PeerStepReport } from '@mat/core';

describe('StepAggregator: per-peer reports to metrics.jsonl lines', () => {
  const schedule = new RunSchedule(parseRunConfig({ train: { epochs: 2 } }), 10);
  const report = (peer: number, step: number, extra: Partial<PeerStepReport> = {}): PeerStepReport => ({
    peer,
    step,
    lr: 0.05,
    loss: 1 + peer,
    base: 0.5,
    distill: 0.25,
    advAccuracy: 0.5,
    stepSeconds: 0.1 * (peer + 1),
    ...extra,
  });

  it('a step line once every peer has reported, in peer order, with the slowest peer’s time and every peer’s exchange time', () => {
    const lines = new StepAggregator(schedule, 2);
    expect(lines.addStep(report(1, 11, { exchangeSeconds: 0.02 }))).toBeUndefined();
    expect(lines.addStep(report(0, 11, { exchangeSeconds: 0.01 }))).toEqual({
      step: 11,
      totalSteps: 20,
      epoch: 1,
      lr: 0.05,
      seconds: 0.2,
      peers: [
        { peer: 0, loss: 1, base: 0.5, distill: 0.25, advAccuracy: 0.5, exchangeSeconds: 0.01 },
        { peer: 1, loss: 2, base: 0.5, distill: 0.25, advAccuracy: 0.5, exchangeSeconds: 0.02 },
      ],
    });
    // Without an exchange (in-process) there is no exchangeSeconds; staleness only when reported.
    const single = new StepAggregator(schedule, 1);
    expect(single.addStep(report(0, 1, { staleness: 2 }))?.peers).toEqual([
      { peer: 0, loss: 1, base: 0.5, distill: 0.25, advAccuracy: 0.5, staleness: 2 },
    ]);
  });

  it('keeps NaN a NaN (never 0)', () => {
    const lines = new StepAggregator(schedule, 1);
    expect(lines.addStep(report(0, 1, { loss: NaN }))?.peers[0].loss).toBeNaN();
  });

  it('a newer generation replaces what an older one reported of a step; an older one is ignored', () => {
    const lines = new StepAggregator(schedule, 2);
    lines.addStep(report(0, 3, { loss: 10 }), 1);
    expect(lines.addStep(report(1, 3, { loss: 20 }), 2)).toBeUndefined();
    expect(lines.addStep(report(0, 3, { loss: 11 }), 1)).toBeUndefined();
    expect(lines.addStep(report(0, 3, { loss: 21 }), 2)?.peers.map((p) => p.loss)).toEqual([21, 20]);
    // A rollback to step 2 by generation 3 forgets generation 2's pending step 4.
    lines.addStep(report(0, 4), 2);
    lines.dropStepsAfter(2, 3);
    expect(lines.addStep(report(1, 4), 3)).toBeUndefined();
  });

  it('an eval line once every peer’s result is in, final and epoch evaluations apart', () => {
    const lines = new StepAggregator(schedule, 2);
    const result = { count: 16, cleanAccuracy: 0.5, robustAccuracy: 0.25 };
    expect(lines.addEval({ peer: 1, step: 10, final: false, ...result })).toBeUndefined();
    expect(lines.addEval({ peer: 0, step: 10, final: true, ...result })).toBeUndefined();
    expect(lines.addEval({ peer: 0, step: 10, final: false, ...result })).toEqual({
      step: 10,
      epoch: 0,
      final: false,
      peers: [
        { peer: 0, ...result },
        { peer: 1, ...result },
      ],
    });
  });
});
