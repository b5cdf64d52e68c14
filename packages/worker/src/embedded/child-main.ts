import { divergenceReport, DivergenceError, selectBackend } from '@mat/core';
import { exchangeSecretFromEnv, IpcPeerExchange } from '@mat/exchange';
import { PeerRunner } from '../peer-runner';
import { trainLoop } from '../train-loop';
import type { ChildMessage, ParentMessage } from './protocol';

/**
 * One peer of `mat train --runtime processes`: forked by the parent with serialization 'advanced', it
 * trains its peer with the shared loop and exchanges through the parent (IpcPeerExchange). Reports steps,
 * checkpoint files and evaluations; the parent aggregates them like the in-process trainer.
 */

const send = (m: ChildMessage): void => void process.send?.(m);
let pauseAt: number | undefined;

async function run(start: Extract<ParentMessage, { type: 'start' }>): Promise<void> {
  const { config, peer: index, runDir, runId, startStep } = start;
  const backend = await selectBackend(config.backend);
  const runner = await PeerRunner.open(config, index, runDir);
  runner.restore(startStep);
  const exchange = new IpcPeerExchange(index, runner.exchangeRules(runId, exchangeSecretFromEnv()), {
    startStep,
    maxStaleness: config.train.maxStaleness,
  });
  send({ type: 'ready', peer: index, backend: backend.name });

  const evaluate = (step: number, final: boolean) => {
    send({ type: 'eval-start', peer: index, step });
    send({
      type: 'eval',
      peer: index,
      step,
      final,
      result: runner.evaluate((done, total) => send({ type: 'eval-progress', peer: index, done, total })),
    });
  };
  let checkpointed = startStep;
  const done = await trainLoop(runner, exchange, startStep, {
    shouldStop: (d) => pauseAt !== undefined && d >= pauseAt,
    onStep: (report) => send({ type: 'step', peer: index, report }),
    onCheckpoint: (step, file) => {
      checkpointed = step;
      send({ type: 'checkpoint', peer: index, step, file });
    },
    onEpochEval: (step) => evaluate(step, false),
  });
  // Bounded staleness: slower peers may still need this peer's labels to reach the same step; answer them
  // until the parent disconnects (it does once every peer is done).
  const serving = (async () => {
    while (runner.servesAfterSteps && process.connected) await runner.serve(exchange, { timeoutMs: 250 });
  })();
  // A stopped run ends with a checkpoint where it stopped, as the in-process trainer's does.
  if (done !== checkpointed)
    send({ type: 'checkpoint', peer: index, step: done, file: runner.saveCheckpoint(done) });
  evaluate(done, true);
  send({ type: 'done', peer: index, step: done, rejectedMessages: exchange.rejected });
  await serving;
  await exchange.close();
  runner.dispose();
}

process.on('message', (m: ParentMessage) => {
  if (m?.type === 'pause') pauseAt = m.at;
  if (m?.type === 'start') {
    // When done, the child waits for the parent to disconnect it (so every report is delivered).
    run(m).catch((err: Error) => {
      process.exitCode = 1;
      const divergence = err instanceof DivergenceError ? divergenceReport(err) : undefined;
      send({ type: 'error', peer: m.peer, message: err.message, stack: err.stack, divergence });
    });
  }
});
// Ctrl-C reaches the whole process group: the parent alone decides (it pauses every peer at a common step).
// Ignored on purpose: handlers that do nothing keep node's default (exit) from killing the peer mid-step.
process.on('SIGINT', () => undefined);
process.on('SIGTERM', () => undefined);
send({ type: 'listening' });
// The parent is gone: nobody to train for.
process.on('disconnect', () => setTimeout(() => process.exit(), 50));
