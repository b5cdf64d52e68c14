import { RunProgress } from '@mat/coordinator';
import type { EvalEvent, StepEvent } from '@mat/core';

const step = (n: number): StepEvent => ({
  step: n,
  totalSteps: 50,
  epoch: 0,
  lr: 0.1,
  seconds: 0.5,
  peers: [{ peer: 0, loss: 1, base: 1, distill: 0, advAccuracy: 0.5 }],
});
const final: EvalEvent = {
  step: 50,
  epoch: 0,
  final: true,
  peers: [{ peer: 0, count: 10, cleanAccuracy: 0.5, robustAccuracy: 0.3 }],
};

describe("RunProgress: the coordinator's progress lines", () => {
  it('one line per interval whatever the number of entries, each evaluation once, JSON fields beside the text', () => {
    let now = 0;
    const logged: Array<[string, Record<string, unknown> | undefined]> = [];
    const progress = new RunProgress(
      (m, f) => logged.push([m, f]),
      10000,
      () => now,
    );
    for (let n = 1; n <= 50; n++) {
      now = n * 1000; // a step a second: 50 steps in 50 s
      progress.line({ type: 'step', ...step(n) });
    }
    progress.line({ type: 'eval', ...final }); // from the stream
    progress.evaluation(final); // and again from the evaluation jobs' results
    const steps = logged.filter(([, f]) => f?.event === 'progress').map(([, f]) => f!.step);
    expect(steps).toEqual([1, 11, 21, 31, 41, 50]);
    expect(logged.filter(([, f]) => f?.event === 'eval')).toHaveLength(1);
    const [text, fields] = logged.find(([, f]) => f?.step === 21)!;
    expect(text).toMatch(/^step 21\/50 \(42%\) .* 0\.50 s\/step, ETA 15s$/);
    expect(fields).toMatchObject({
      event: 'progress',
      step: 21,
      totalSteps: 50,
      secondsPerStep: 0.5,
      etaSeconds: 14.5,
    });
  });
});
