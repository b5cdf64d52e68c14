import { RunTimeline, streamIdTime } from '@mat/coordinator';
import type { MetricsEntry } from '@mat/exchange';

const stepEntry = (peer: number, step: number): MetricsEntry => ({
  type: 'step',
  peer,
  step,
  loss: 1,
  base: 1,
  distill: 0,
  advAccuracy: 0.5,
  lr: 0.1,
  stepSeconds: 0.1,
  exchangeSeconds: null,
});

describe('RunTimeline: a distributed run replayed from its metrics stream', () => {
  it('splits the time into waiting, training, recovery and evaluation, and counts what was redone', () => {
    const t = new RunTimeline(10);
    const at = (s: number) => s * 1000;
    t.take({ type: 'run', event: 'create', step: 0 }, at(0));
    t.take({ type: 'worker', workerId: 'w1', event: 'joined', peer: 0 }, at(2));
    t.take({ type: 'run', event: 'generation', generation: 1, step: 0 }, at(5));
    for (let s = 1; s <= 6; s++) t.take(stepEntry(0, s), at(5 + s));
    t.take({ type: 'checkpoint', step: 4, dir: 'x' }, at(9.5));
    t.take({ type: 'worker', workerId: 'w2', event: 'lost', peer: 1 }, at(12));
    // A late step of the old generation changes nothing of the phase.
    t.take(stepEntry(0, 7), at(12.5));
    t.take({ type: 'run', event: 'generation', generation: 2, step: 4 }, at(20));
    t.take({ type: 'run', event: 'rollback', step: 4 }, at(25));
    t.take({ type: 'run', event: 'generation', generation: 3, step: 4 }, at(26));
    t.take(stepEntry(1, 10), at(30));
    t.take({ type: 'checkpoint', step: 10, dir: 'x' }, at(31));
    t.take({ type: 'run', event: 'finished', step: 10 }, at(40));
    expect(t.timing(at(100))).toEqual({
      waitingSeconds: 5,
      trainingSeconds: 7 + 5 + 5,
      evaluationSeconds: 9,
      recoverySeconds: 8 + 1,
    });
    // Generation 2 re-took steps 5..7 (step 7 reached by one peer); generation 3 steps 5..4 = none more.
    expect(t.history).toEqual({ generations: 3, rollbacks: 1, lostWorkers: 1, stepsRedone: 3 });
  });

  it('Redis lost the run while it trained: the time until it is registered again and trains is recovery', () => {
    const t = new RunTimeline(10);
    t.take({ type: 'run', event: 'create', step: 0 }, 0);
    t.take({ type: 'run', event: 'generation', generation: 1, step: 0 }, 1000);
    t.take({ type: 'run', event: 'resume', step: 0 }, 4000);
    t.take({ type: 'run', event: 'generation', generation: 2, step: 0 }, 6000);
    expect(t.timing(7000)).toEqual({
      waitingSeconds: 1,
      trainingSeconds: 3 + 1,
      evaluationSeconds: 0,
      recoverySeconds: 2,
    });
  });

  it('reads the time of a stream id', () => {
    expect(streamIdTime('1700000000123-7')).toBe(1700000000123);
  });
});
