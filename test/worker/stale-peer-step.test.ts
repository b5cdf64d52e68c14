import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { encodeMessage } from '@mat/exchange';
import { StalePeer } from '@mat/worker';
import { network } from '../exchange/ipc-network';
import { expectBoundedStaleness, runStale, staleConfig, staleRules } from './stale-harness';

/**
 * Bounded staleness over the in-memory IPC network (as `mat train --runtime processes` wires its
 * children): one peer is held back, the others run ahead by at most s steps, and the run finishes.
 */
describe('StalePeer (train.maxStaleness > 0) over IPC', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it.each([
    { peers: 3, s: 1, slow: 0 },
    { peers: 3, s: 2, slow: 2 },
    { peers: 2, s: 3, slow: 1 },
  ])('$peers peers, s = $s, peer $slow held back', async ({ peers, s, slow }) => {
    const steps = 3 * s + 4;
    const logged: string[] = [];
    const config = staleConfig(peers, s);
    const { exchanges } = network(peers, staleRules('stale-ipc', peers), logged, { maxStaleness: s });
    const result = await runStale({ config, steps, slow, exchanges });
    expect(logged).toEqual([]);
    expectBoundedStaleness(result, { s, steps, slow });
  });

  it('collect() still rejects and logs wrong-run, wrong-generation, wrong-step and malformed messages', async () => {
    const logged: string[] = [];
    const { exchanges, inject } = network(2, staleRules('stale-ipc', 2), logged, { maxStaleness: 1 });
    const tensor = { shape: [5, 4, 4, 1], data: new Float32Array(80).fill(0.5) };
    const header = { run: 'stale-ipc', gen: 1, step: 0, peer: 1, kind: 'adv' as const, shape: tensor.shape };
    inject(0, encodeMessage({ ...header, run: 'another-run' }, tensor, ''));
    inject(0, encodeMessage({ ...header, gen: 7 }, tensor, ''));
    // Peer 0 is at step 0: with s = 1 it accepts steps 0..2 (s behind, s + 1 ahead) and no more.
    inject(0, encodeMessage({ ...header, step: 3 }, tensor, ''));
    inject(0, Buffer.from('not a message'));
    await exchanges[1].publish('adv', 0, tensor, [0]);
    const got = await exchanges[0].collect([0, 2], { wait: true });
    expect(got.map((m) => [m.kind, m.step, m.from])).toEqual([['adv', 0, 1]]);
    expect(logged).toEqual([
      expect.stringMatching(/wrong run "another-run"/),
      expect.stringMatching(/wrong generation 7/),
      expect.stringMatching(/wrong step 3 \(expected 0\.\.2\)/),
      expect.stringMatching(/malformed or truncated/),
    ]);
    // Collected messages are gone; a bounded wait returns nothing.
    expect(await exchanges[0].collect([0, 2], { wait: true, timeoutMs: 10 })).toEqual([]);
  });

  it('needs maxStaleness >= 1 (0 is the synchronous peerStep)', () => {
    expect(() => new StalePeer({} as never, staleConfig(2, 0))).toThrow(/maxStaleness >= 1/);
  });
});
