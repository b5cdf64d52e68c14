import { encodeMessage, messageShapes, type ExchangeRules } from '@mat/exchange';
import { network } from './ipc-network';

describe('IpcPeerExchange', () => {
  const rules: ExchangeRules = {
    runId: 'ipc-run',
    peerCount: 2,
    shapes: messageShapes({ peerCount: 2, batchSize: 2, imageShape: [1, 1, 1], numClasses: 3 }),
  };
  const adv = (v: number) => ({ shape: [2, 1, 1, 1], data: new Float32Array([v, v + 0.5]) });

  it('buffers a message of the next step from a peer that is ahead, and rejects stale or far-future ones', async () => {
    const logged: string[] = [];
    const { exchanges, inject } = network(2, rules, logged);
    const [a, b] = exchanges;
    // b is one step ahead: its step-1 message reaches a while a still works on step 0.
    await b.publish('adv', 0, adv(1), [0]);
    await b.publish('adv', 1, adv(2), [0]);
    const header = { run: 'ipc-run', gen: 1, peer: 1, kind: 'adv' as const, shape: [2, 1, 1, 1] };
    inject(0, encodeMessage({ ...header, step: 5 }, adv(9), ''));
    expect(Array.from((await a.receive('adv', 0, [1])).get(1)!.data)).toEqual([1, 1.5]);
    expect(Array.from((await a.receive('adv', 1, [1])).get(1)!.data)).toEqual([2, 2.5]);
    inject(0, encodeMessage({ ...header, step: 0 }, adv(9), '')); // stale now that a is at step 1
    await new Promise((r) => setTimeout(r, 20));
    expect(logged).toEqual([
      expect.stringMatching(/wrong step 5 \(expected [01]..[12]\)/),
      expect.stringMatching(/wrong step 0 \(expected 1..2\)/),
    ]);
    expect(a.rejected).toBe(2);
    await Promise.all(exchanges.map((e) => e.close()));
  });
});
