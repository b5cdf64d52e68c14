import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import type { Redis } from 'ioredis';
import { matStep, parseRunConfig, Sgd, type Peer, type RunConfig } from '@mat/core';
import { encodeMessage, messageShapes, RedisPeerExchange, runKeys, type ExchangeRules } from '@mat/exchange';
import { peerStep } from '@mat/worker';
import { deleteRun, newRedis, uniqueRunId } from '../exchange/redis-helpers';
import { randomBatch, snapshotParams, TinyMlp } from '../core/helpers/tiny-models';

// Needs Redis on 127.0.0.1:6379 (scripts/ensure-redis.sh).

const SHAPE: [number, number, number] = [4, 4, 1];
const CLASSES = 3;
const BATCH = 5;
const STEPS = 3;
const SECRET = 'the-run-secret-0123456789abcdef';

function makePeers(n: number, config: RunConfig): Peer[] {
  return Array.from({ length: n }, (_, index) => {
    const model = new TinyMlp(SHAPE, CLASSES, 8, 100 + index);
    return { index, model, optimizer: new Sgd(model.params, { ...config.optim }) };
  });
}

/**
 * Someone who can write to Redis but does not have MAT_EXCHANGE_SECRET pushes, ahead of every genuine
 * message, a well-formed message for the same run, generation, step and sender, with finite but absurd
 * values (3e38) and a MAC made with a guessed secret. With a CRC only, it was accepted, the genuine one was
 * dropped as a duplicate and training went to NaN. Now it is rejected (logged naming sender and step) and
 * the peers end byte-identical to the unforged run (core's in-process matStep).
 */
describe('a forged teacher message ahead of the genuine one (Redis exchange)', () => {
  let redis: Redis;
  let runId: string;

  beforeAll(async () => {
    await tf.setBackend('cpu');
  });
  beforeEach(() => {
    redis = newRedis();
    runId = uniqueRunId('forged');
  });
  afterEach(async () => {
    await deleteRun(redis, runId);
    redis.disconnect();
  });

  it('is rejected, and training is byte-identical to the run without it', async () => {
    const n = 2;
    const config = parseRunConfig({
      seed: 3,
      peers: n,
      optim: { lr: 0.1, momentum: 0.9, weightDecay: 5e-4 },
      attack: { norm: 'linf', eps: 0.2, stepSize: 0.1, steps: 2 },
    });
    const rules: ExchangeRules = {
      runId,
      peerCount: n,
      shapes: messageShapes({ peerCount: n, batchSize: BATCH, imageShape: SHAPE, numClasses: CLASSES }),
      secret: SECRET,
    };
    const logged: Array<{ reason: string; details: Record<string, unknown> }> = [];
    const exchanges = Array.from(
      { length: n },
      (_, p) =>
        new RedisPeerExchange(redis, p, rules, {
          generation: 1,
          pollMs: 50,
          log: (reason, details) => logged.push({ reason, details }),
        }),
    );
    const reference = makePeers(n, config);
    const attacked = makePeers(n, config);
    try {
      for (let step = 0; step < STEPS; step++) {
        // The forgeries, for every (kind, receiver, sender) of this step, first in each inbox.
        for (const kind of ['adv', 'labels'] as const) {
          const shape = rules.shapes[kind];
          const absurd = {
            shape: [...shape],
            data: new Float32Array(shape.reduce((a, b) => a * b)).fill(3e38),
          };
          for (let to = 0; to < n; to++) {
            const from = 1 - to;
            const header = { run: runId, gen: 1, step, peer: from, kind, shape: [...shape] };
            await redis.rpush(
              runKeys(runId).inbox(1, step, kind, to),
              encodeMessage(header, absurd, 'guessed'),
            );
          }
        }
        const batch = randomBatch([BATCH, ...SHAPE], CLASSES, 40 + step);
        const lr = 0.1 / (step + 1);
        const expected = matStep(reference, batch, { config, step, lr });
        const metrics = await Promise.all(
          attacked.map((p, i) => peerStep(p, exchanges[i], batch, { config, step, lr })),
        );
        expect(metrics.map(({ exchangeSeconds: _, ...m }) => m)).toEqual(expected);
        tf.dispose([batch.x, batch.y]);
      }
      for (let i = 0; i < n; i++)
        expect(snapshotParams(attacked[i].model)).toEqual(snapshotParams(reference[i].model));
      expect(attacked.every((p) => snapshotParams(p.model).every((w) => w.every(Number.isFinite)))).toBe(
        true,
      );
      // Every forgery was rejected (2 kinds x 2 receivers x STEPS), the first few logged naming sender and step.
      expect(exchanges.reduce((a, e) => a + e.rejected, 0)).toBe(2 * n * STEPS);
      expect(logged.length).toBeGreaterThan(0);
      for (const { reason, details } of logged) {
        expect(reason).toMatch(/^authentication failed/);
        expect(details).toMatchObject({ run: runId, sender: expect.any(Number), step: expect.any(Number) });
      }
    } finally {
      await Promise.all(exchanges.map((e) => e.close()));
      for (const p of [...reference, ...attacked]) {
        p.model.dispose();
        p.optimizer.dispose();
      }
    }
  });
});
