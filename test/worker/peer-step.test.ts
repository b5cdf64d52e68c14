import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { matStep, parseRunConfig, Sgd, type Peer, type RunConfig } from '@mat/core';
import { messageShapes } from '@mat/exchange';
import { peerStep } from '@mat/worker';
import { network } from '../exchange/ipc-network';
import { randomBatch, snapshotParams, TinyMlp } from '../core/helpers/tiny-models';

const SHAPE: [number, number, number] = [4, 4, 1];
const CLASSES = 3;
const BATCH = 5;

function makePeers(n: number, config: RunConfig): Peer[] {
  return Array.from({ length: n }, (_, index) => {
    const model = new TinyMlp(SHAPE, CLASSES, 8, 100 + index);
    return { index, model, optimizer: new Sgd(model.params, { ...config.optim }) };
  });
}

/**
 * Each peer takes its step alone, exchanging x_i' and teacher labels with the others (as one worker per
 * peer does), and must end exactly where the in-process reference step (core's matStep) puts it.
 */
async function compare(config: RunConfig, rowsPerSample = 1): Promise<void> {
  const n = config.peers;
  const together = makePeers(n, config);
  const alone = makePeers(n, config);
  const logged: string[] = [];
  const rules = {
    runId: 'peer-step',
    peerCount: n,
    shapes: messageShapes({
      peerCount: n,
      batchSize: BATCH,
      imageShape: SHAPE,
      numClasses: CLASSES,
      rowsPerSample,
    }),
  };
  const { exchanges } = network(n, rules, logged);
  for (let step = 0; step < 3; step++) {
    const batch = randomBatch([BATCH, ...SHAPE], CLASSES, 40 + step);
    const lr = 0.1 / (step + 1);
    const reference = matStep(together, batch, { config, step, lr });
    const metrics = await Promise.all(
      alone.map((p, i) => peerStep(p, exchanges[i], batch, { config, step, lr })),
    );
    expect(metrics.map(({ exchangeSeconds: _, ...m }) => m)).toEqual(reference);
    tf.dispose([batch.x, batch.y]);
  }
  expect(logged).toEqual([]);
  for (let i = 0; i < n; i++)
    expect(snapshotParams(alone[i].model)).toEqual(snapshotParams(together[i].model));
  // The exchange changed something: the peers moved away from their initial weights.
  expect(snapshotParams(alone[0].model)).not.toEqual(snapshotParams(makePeers(1, config)[0].model));
}

describe('peerStep (one peer, exchanging) vs matStep (all peers in one process)', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });
  const base = {
    seed: 5,
    optim: { lr: 0.1, momentum: 0.9, weightDecay: 5e-4 },
    attack: { norm: 'linf', eps: 0.2, stepSize: 0.1, steps: 2 },
  } as const;

  it('3 peers, Madry AT + MAT with a distillation warm-up', async () => {
    await compare(
      parseRunConfig({ ...base, peers: 3, method: { tau: 2, lambdaOwn: 0.5, distillWarmupSteps: 2 } }),
    );
  });

  it('4 peers distilling from 1 or 2 sampled peers each (messages go to partners only)', async () => {
    await compare(parseRunConfig({ ...base, peers: 4, method: { peerSample: 1 } }));
    await compare(parseRunConfig({ ...base, peers: 4, method: { peerSample: 2, lambdaPeer: 0.5 } }));
  });

  it('2 peers, TRADES', async () => {
    await compare(parseRunConfig({ ...base, peers: 2, method: { base: 'trades', tradesBeta: 3 } }));
  });

  it('3 peers, MAT-MP average (x_i stacks one batch per perturbation type)', async () => {
    const mp = {
      strategy: 'average',
      attacks: [
        { norm: 'linf', eps: 0.2, stepSize: 0.1, steps: 1 },
        { norm: 'l2', eps: 0.5, steps: 1 },
      ],
    };
    await compare(parseRunConfig({ ...base, peers: 3, mp }), 2);
  });
});
