import type { EvalProgress, ModelEvalResult } from '@mat/core';
import { EvalProgressPrinter, formatDuration } from '../../packages/cli/src/eval/progress';

/** A stream that records what was written, and a clock the test moves. */
function setup(format: 'text' | 'json', intervalMs: number, isTTY = false) {
  const written: string[] = [];
  let t = 1000;
  const printer = new EvalProgressPrinter({
    format,
    out: { write: (s: string) => written.push(s), isTTY, columns: 200 },
    intervalMs,
    now: () => t,
  });
  return {
    printer,
    written,
    advance: (ms: number) => (t += ms),
    lines: () =>
      written
        .join('')
        .split('\n')
        .filter((l) => l !== ''),
  };
}

const progress = (done: number, step?: number): EvalProgress => ({
  model: 'peer 0',
  task: 'PGD-20 linf eps 0.1',
  batch: (done % 4) + 1,
  batches: 4,
  step,
  steps: step === undefined ? undefined : 20,
  done,
  total: 8,
});

const model: ModelEvalResult = {
  model: 'peer 1',
  peer: 1,
  count: 100,
  cleanAccuracy: 0.8,
  cleanWrong: [1, 5],
  results: [
    {
      attack: 'pgd',
      label: 'PGD-20',
      norm: 'linf',
      eps: 0.1,
      scale: 1,
      accuracy: 0.6,
      correct: 60,
      broken: [2, 3],
      seconds: 75,
    },
  ],
  unions: [{ norm: 'linf', eps: 0.1, scale: 1, accuracy: 0.6, correct: 60, attacks: ['PGD-20 linf'] }],
  seconds: 80,
};

describe('mat eval progress', () => {
  it('formats durations', () => {
    expect([0.4, 7, 59.6, 95, 3600 + 125].map(formatDuration)).toEqual([
      '0s',
      '7s',
      '1m00s',
      '1m35s',
      '1h02m',
    ]);
  });

  it('prints text lines at the interval when stdout is not a terminal, with elapsed time and ETA', () => {
    const { printer, advance, lines } = setup('text', 10000);
    printer.update(progress(0, 1));
    expect(lines()).toEqual([]); // nothing before the first interval
    advance(4000);
    printer.update(progress(1));
    expect(lines()).toEqual([]);
    advance(6000);
    printer.update(progress(2, 3));
    expect(lines()).toEqual([
      'eval 2/8 (25%) peer 0: PGD-20 linf eps 0.1, batch 3/4 iter 3/20; 10s elapsed, ETA 30s',
    ]);
    advance(5000);
    printer.update(progress(3));
    expect(lines()).toHaveLength(1);
    advance(5000);
    printer.update(progress(4));
    expect(lines()[1]).toBe('eval 4/8 (50%) peer 0: PGD-20 linf eps 0.1, batch 1/4; 20s elapsed, ETA 20s');
    expect(lines().every((l) => !l.includes('\r'))).toBe(true);
  });

  it('with interval 0, prints one line per finished attack batch and none per iteration', () => {
    const { printer, lines } = setup('text', 0);
    for (let done = 1; done <= 3; done++) {
      printer.update(progress(done - 1, 1));
      printer.update(progress(done - 1, 2));
      printer.update(progress(done));
    }
    expect(lines().map((l) => l.slice(0, 10))).toEqual(['eval 1/8 (', 'eval 2/8 (', 'eval 3/8 (']);
  });

  it('prints JSON lines with the same facts, and a line per finished model', () => {
    const { printer, advance, lines } = setup('json', 0);
    advance(2000);
    printer.update(progress(2));
    printer.modelDone(model);
    const [p, m] = lines().map((l) => JSON.parse(l));
    expect(p).toMatchObject({
      type: 'eval-progress',
      model: 'peer 0',
      task: 'PGD-20 linf eps 0.1',
      done: 2,
      total: 8,
      elapsedSeconds: 2,
      etaSeconds: 6,
    });
    expect(typeof p.time).toBe('string');
    expect(m).toEqual({
      time: m.time,
      type: 'eval-model',
      model: 'peer 1',
      peer: 1,
      count: 100,
      cleanAccuracy: 0.8,
      seconds: 80,
      results: [{ label: 'PGD-20', norm: 'linf', eps: 0.1, scale: 1, accuracy: 0.6, seconds: 75 }],
      unions: [{ norm: 'linf', eps: 0.1, scale: 1, accuracy: 0.6 }],
    });
  });

  it('prints a text line per finished model, with per-attack accuracy and time', () => {
    const { printer, lines } = setup('text', 10000);
    printer.modelDone(model);
    expect(lines()).toEqual(['peer 1 done in 1m20s: clean 80.0%, PGD-20 linf 0.1 60.0% (1m15s)']);
  });

  it('on a terminal redraws one live line, and clears it before printing a model line', () => {
    const { printer, written, advance } = setup('text', 10000, true);
    printer.update(progress(1));
    advance(50);
    printer.update(progress(1, 2)); // within 200 ms: skipped
    advance(300);
    printer.update(progress(1, 3));
    expect(written).toHaveLength(2);
    expect(written.every((w) => w.startsWith('\r\x1b[2K') && !w.includes('\n'))).toBe(true);
    printer.modelDone(model);
    expect(written[2]).toBe('\r\x1b[2K');
    expect(written[3]).toMatch(/^peer 1 done in/);
  });
});
