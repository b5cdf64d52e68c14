import {
  evalTableText,
  formatDuration,
  parseRunSummary,
  PhaseClock,
  progressText,
  ProgressThrottle,
  runSummary,
  summaryText,
  type StepEvent,
} from '@mat/core';

const step = (n: number, seconds: number, total = 100): StepEvent => ({
  step: n,
  totalSteps: total,
  epoch: 0,
  lr: 0.01,
  seconds,
  peers: [
    { peer: 0, loss: 1.25, base: 1, distill: 0.25, advAccuracy: 0.5 },
    { peer: 1, loss: NaN, base: NaN, distill: 0, advAccuracy: 0.125, staleness: 2 },
  ],
});

describe('ProgressThrottle', () => {
  it('gives the first step, one line per interval and the last step, with the mean pace of the steps between', () => {
    let now = 0;
    const throttle = new ProgressThrottle(1000, () => now);
    const shown: number[] = [];
    const paces: number[] = [];
    for (let n = 1; n <= 10; n++) {
      now = n * 300; // a step every 0.3 s of wall time; each reports n/10 s
      const line = throttle.offer(step(n, n / 10, 10));
      if (line) {
        shown.push(line.step);
        paces.push(line.secondsPerStep);
      }
    }
    // t=300 (first), t=1500 (step 5, 1.2 s later), t=2700 (step 9), step 10 (last).
    expect(shown).toEqual([1, 5, 9, 10]);
    expect(paces[0]).toBeCloseTo(0.1);
    expect(paces[1]).toBeCloseTo((0.2 + 0.3 + 0.4 + 0.5) / 4);
    expect(paces[2]).toBeCloseTo((0.6 + 0.7 + 0.8 + 0.9) / 4);
    expect(paces[3]).toBeCloseTo(1.0);
  });

  it('estimates the time left from the pace', () => {
    const line = new ProgressThrottle(0).offer(step(40, 0.5, 100))!;
    expect(line.etaSeconds).toBeCloseTo(60 * 0.5);
    const text = progressText(line);
    expect(text).toContain('step 40/100 (40%) ep 1');
    expect(text).toContain('p0 loss 1.250 adv 50.0%');
    // A diverged loss stays NaN; staleness is shown where the run has it.
    expect(text).toContain('p1 loss NaN adv 12.5% stale 2');
    expect(text).toContain('0.50 s/step, ETA 30s');
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0s'],
    [59.4, '59s'],
    [75, '1m15s'],
    [3600 + 6 * 60 + 10, '1h06m'],
    [NaN, '?'],
  ])('%d s -> %s', (s, text) => expect(formatDuration(s)).toBe(text));
});

describe('PhaseClock', () => {
  it('adds each phase up to the next change; time after stop() is not counted', () => {
    const clock = new PhaseClock({
      waitingSeconds: 1,
      trainingSeconds: 2,
      evaluationSeconds: 0,
      recoverySeconds: 0,
    });
    clock.enter('waiting', 0);
    clock.enter('training', 3000);
    clock.enter('recovery', 10000);
    expect(clock.timing(10500)).toEqual({
      waitingSeconds: 4,
      trainingSeconds: 9,
      evaluationSeconds: 0,
      recoverySeconds: 0.5,
    });
    clock.enter('training', 11000);
    clock.enter('evaluation', 12000);
    clock.stop(12250);
    expect(clock.timing(99999)).toEqual({
      waitingSeconds: 4,
      trainingSeconds: 10,
      evaluationSeconds: 0.25,
      recoverySeconds: 1,
    });
  });
});

describe('summary.json contract', () => {
  const timing = { waitingSeconds: 5, trainingSeconds: 20, evaluationSeconds: 4, recoverySeconds: 1 };
  const history = { generations: 2, rollbacks: 0, lostWorkers: 1, stepsRedone: 3 };
  const summary = runSummary({
    metadata: { runtime: 'redis' },
    runDir: '/runs/x',
    stepsDone: 10,
    totalSteps: 10,
    timing,
    history,
    images: 13 * 8 * 2,
    final: {
      step: 10,
      epoch: 0,
      final: true,
      peers: [{ peer: 0, count: 16, cleanAccuracy: 0.5, robustAccuracy: 0.25 }],
    },
  });

  it('seconds is the sum of the phases; images per second are per second of training', () => {
    expect(summary.seconds).toBe(30);
    expect(summary.imagesPerSecond).toBeCloseTo((13 * 8 * 2) / 20);
    expect(parseRunSummary(JSON.parse(JSON.stringify(summary)))).toEqual(summary);
  });

  it('an older summary without timing and history still reads; a wrong field is named', () => {
    const { timing: _t, history: _h, ...old } = summary;
    expect(parseRunSummary(old).timing).toBeUndefined();
    expect(() => parseRunSummary({ ...summary, history: { ...history, rollbacks: -1 } }, 'x.json')).toThrow(
      /x\.json is not a run summary: history\.rollbacks/,
    );
    // NaN is never a result: JSON writes it as null, which the contract refuses.
    const nan = JSON.parse(
      JSON.stringify({
        ...summary,
        final: { ...summary.final, peers: [{ ...summary.final!.peers[0], robustAccuracy: NaN }] },
      }),
    );
    expect(() => parseRunSummary(nan)).toThrow(/final\.peers\.0\.robustAccuracy/);
  });

  it('the text names where the time went and what was recovered', () => {
    const text = summaryText(summary);
    expect(text).toContain('run finished: 10/10 steps in 30s');
    expect(text).toContain('time: training 20s, evaluation 4s, waiting for workers 5s, recovery 1s');
    expect(text).toContain('recovery: 2 generations, 0 rollbacks, 1 lost workers, 3 steps redone');
    expect(evalTableText(summary.final!)).toBe(
      'final evaluation at step 10:\n  peer 0: clean 50.0%  robust 25.0%  (n=16)',
    );
  });
});
