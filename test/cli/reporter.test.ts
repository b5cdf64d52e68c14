import { createReporter } from '../../packages/cli/src/reporter';

/** A stream that keeps what is written (not a TTY: every first and last step is printed). */
function capture() {
  const chunks: string[] = [];
  const stream = {
    isTTY: false,
    write: (s: string) => (chunks.push(s), true),
  } as unknown as NodeJS.WriteStream;
  return { stream, text: () => chunks.join('') };
}

describe('text reporter', () => {
  it('prints each peer of a step, with the staleness of bounded-staleness runs', () => {
    const { stream, text } = capture();
    const reporter = createReporter('text', stream);
    const peer = (p: number, staleness?: number) => ({
      peer: p,
      loss: 1.5,
      base: 1,
      distill: 0.5,
      advAccuracy: 0.25,
      ...(staleness === undefined ? {} : { staleness }),
    });
    reporter.step({ step: 1, totalSteps: 2, epoch: 0, lr: 0.1, seconds: 0.5, peers: [peer(0), peer(1, 0)] });
    reporter.step({ step: 2, totalSteps: 2, epoch: 0, lr: 0.1, seconds: 0.5, peers: [peer(0, 2), peer(1)] });
    const [first, second] = text().trim().split('\n');
    expect(first).toMatch(/p0 loss 1\.500 adv 25\.0% \| p1 loss 1\.500 adv 25\.0% \|/);
    expect(second).toMatch(/p0 loss 1\.500 adv 25\.0% stale 2 \| p1 loss 1\.500 adv 25\.0% \|/);
  });
});

describe('JSON reporter', () => {
  const step = (n: number) => ({
    step: n,
    totalSteps: 100,
    epoch: 0,
    lr: 0.1,
    seconds: 0.5,
    peers: [{ peer: 0, loss: 1.5, base: 1, distill: 0.5, advAccuracy: 0.25 }],
  });
  const lines = (text: string) =>
    text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);

  it('one progress line per interval (the first step at once), with the pace of the steps in between', () => {
    const { stream, text } = capture();
    const reporter = createReporter('json', stream, 60_000);
    for (let n = 1; n <= 50; n++) reporter.step(step(n));
    const out = lines(text());
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ type: 'progress', step: 1, totalSteps: 100, secondsPerStep: 0.5 });
    expect(out[0].etaSeconds).toBeCloseTo(99 * 0.5, 9);
    reporter.step(step(100)); // the last step is always shown
    expect(lines(text()).map((l) => l.step)).toEqual([1, 100]);
  });

  it('every step with interval 0', () => {
    const { stream, text } = capture();
    const reporter = createReporter('json', stream, 0);
    for (let n = 1; n <= 3; n++) reporter.step(step(n));
    expect(lines(text()).map((l) => [l.type, l.step])).toEqual([
      ['progress', 1],
      ['progress', 2],
      ['progress', 3],
    ]);
  });
});
