import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { DivergenceError, parseRunConfig, Sgd, type Peer } from '@mat/core';
import type { PeerExchange } from '@mat/exchange';
import { peerStep } from '@mat/worker';
import { randomBatch, TinyMlp } from '../core/helpers/tiny-models';

const SHAPE: [number, number, number] = [4, 4, 1];

/** An exchange that records what is published (and whether it was finite) and never delivers anything. */
function recordingExchange(peer: number): PeerExchange & { published: string[] } {
  const published: string[] = [];
  return {
    peer,
    published,
    publish: async (kind, step, payload) =>
      void published.push(`${kind}:${step}:${payload.data.every(Number.isFinite) ? 'finite' : 'NOT finite'}`),
    receive: (_kind, _step, from) => (from.length === 0 ? Promise.resolve(new Map()) : new Promise(() => {})),
    collect: async () => [],
    setGeneration: () => {},
    close: async () => {},
  };
}

/**
 * A peer whose weights are not finite must stop before it publishes: its partners would reject the
 * non-finite messages and wait for it forever (the run would hang instead of failing).
 */
describe('peerStep on a diverged peer', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('throws a DivergenceError naming the peer and the step (1-based), having published nothing non-finite', async () => {
    const config = parseRunConfig({ seed: 5, peers: 2, attack: { eps: 0.2, stepSize: 0.1, steps: 1 } });
    const model = new TinyMlp(SHAPE, 3, 8, 101);
    const peer: Peer = { index: 1, model, optimizer: new Sgd(model.params, { ...config.optim }) };
    const w = model.params[0].variable;
    w.assign(tf.fill(w.shape, Infinity));
    const exchange = recordingExchange(1);
    const batch = randomBatch([5, ...SHAPE], 3, 9);
    try {
      const step = peerStep(peer, exchange, batch, { config, step: 6, lr: 0.1 });
      await expect(step).rejects.toThrow(DivergenceError);
      await expect(step).rejects.toThrow(/^peer 1 diverged at step 7: its /);
      // x_i' (clipped to the image range) may go out; the non-finite teacher logits never do.
      expect(exchange.published.filter((p) => !p.endsWith(':finite'))).toEqual([]);
      expect(exchange.published.filter((p) => p.startsWith('labels'))).toEqual([]);
    } finally {
      tf.dispose([batch.x, batch.y]);
      model.dispose();
    }
  });

  it('an update that blows the weights up is caught at that step, before the next step publishes', async () => {
    const config = parseRunConfig({ seed: 5, peers: 1, attack: { eps: 0.2, stepSize: 0.1, steps: 1 } });
    const model = new TinyMlp(SHAPE, 3, 8, 101);
    const peer: Peer = { index: 0, model, optimizer: new Sgd(model.params, { ...config.optim }) };
    const exchange = recordingExchange(0);
    const batch = randomBatch([5, ...SHAPE], 3, 9);
    try {
      // One peer exchanges nothing: the step runs to its update, with a learning rate past float32's range.
      const step = peerStep(peer, exchange, batch, { config, step: 0, lr: 1e39 });
      await expect(step).rejects.toThrow(/^peer 0 diverged at step 1: its weights after the update/);
    } finally {
      tf.dispose([batch.x, batch.y]);
      model.dispose();
    }
  });
});
