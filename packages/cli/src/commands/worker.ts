import type { Argv } from 'yargs';
import { newWorkerId, RedisWorker, type WorkerOptions } from '@mat/worker';
import { describeRedis, EXCHANGE_SECRET_ENV, exchangeSecretFromEnv } from '@mat/exchange';
import { lineLogger, redisConnection, redisOptions, type RedisArgs } from './redis-options';
import { applyGpuChoice, gpuOptions, parseGpuChoice, type GpuArgs } from './worker-gpu';
import { checkRunName } from '@mat/core';
import { resolveConfig } from './train';

interface WorkerArgs extends RedisArgs, GpuArgs {
  run?: string;
  preset?: string;
  config?: string;
  'lease-ms': number;
  'join-timeout': number;
  'leave-grace': number;
  'log-format': 'text' | 'json';
}

/**
 * mat worker [--run ID] [--gpu N|auto] [--redis-url …]
 *
 * Joins a run started by `mat coordinator`, claims a free peer slot (or waits as a hot spare) and trains
 * that peer, exchanging with the other workers through Redis. `--gpu auto` first leases a GPU of this
 * machine that no other worker holds (worker-gpu.ts). SIGTERM/SIGINT: finish the step, checkpoint with the
 * other peers, hand the slot back (and the GPU), exit; before it joined a run: exit at once. Exit code 0
 * when the run finished, was stopped or the worker left; 1 when the run failed or the worker could not join.
 */
export function workerCommand(yargs: Argv): Argv {
  return yargs.command<WorkerArgs>(
    'worker',
    'Train one peer of a distributed run (claims a slot from the coordinator; extra workers are spares)',
    (y) =>
      gpuOptions(
        redisOptions(
          y.usage(
            '$0 worker [options]\n\nExamples:\n  mat worker                                   # the one active run on local Redis\n  mat worker --run quick --gpu 1 --redis-url redis://gpu-box:6379\n  mat worker --gpu auto                        # one worker per GPU: each takes a free one',
          ),
        )
          .option('run', { type: 'string', describe: 'Run id (default: the one active run)' })
          .option('preset', {
            type: 'string',
            describe: "Join the run `mat coordinator --preset P` starts (its run id: the preset's name)",
          })
          .option('config', {
            type: 'string',
            describe: 'Join the run `mat coordinator --config F` starts (its run id: the name in F)',
          })
          .option('lease-ms', {
            type: 'number',
            default: 10000,
            describe: 'Slot lease (and GPU lease with --gpu auto): a worker silent this long is replaced',
          })
          .option('join-timeout', { type: 'number', default: 60, describe: 'Seconds to wait for the run' })
          .option('leave-grace', {
            type: 'number',
            default: 30,
            describe:
              'Leaving (SIGTERM) while a step waits for its peers: seconds before the slot is given back without a checkpoint',
          })
          .option('log-format', { choices: ['text', 'json'] as const, default: 'text' as const }),
      ),
    async (a) => {
      // Installed first: in a container this process is PID 1, which has no default action for SIGTERM,
      // so without a handler `docker stop` would wait out its whole timeout. Until the worker has joined
      // a run there is nothing to checkpoint: it exits at once (giving its GPU lease back).
      const signals = new WorkerSignals();
      const gpuChoice = parseGpuChoice(a);
      if (!(a['lease-ms'] >= 300)) throw new Error('--lease-ms must be at least 300');
      if (a.run !== undefined) checkRunName(a.run, '--run');
      const runId = a.run ?? runIdOfConfig(a);
      const conn = redisConnection(a);
      const log = lineLogger(a['log-format'], 'worker');
      // Checked before joining (a secret too short is an error); every worker of the run needs the same one.
      if (exchangeSecretFromEnv() === undefined)
        log(
          `${EXCHANGE_SECRET_ENV} is not set: exchange messages are checked for integrity but not authenticated ` +
            '(anyone who can write to Redis can forge them); set the same secret for every worker (docs/distributed.md)',
        );
      signals.beforeJoin = (signal) => log(`${signal} before joining a run: exiting`);
      log(`connecting to ${describeRedis(conn)}`);
      const workerId = newWorkerId();
      // Before RedisWorker.join, which loads the backend: CUDA_VISIBLE_DEVICES is read when it loads.
      const gpu = await applyGpuChoice(gpuChoice, {
        conn,
        workerId,
        leaseMs: a['lease-ms'],
        log,
      });
      if (gpu) {
        signals.beforeJoin = (signal) => log(`${signal} before joining a run: releasing the GPU and exiting`);
        signals.release = () => gpu.release();
      }
      try {
        await trainAsWorker({ ...a, run: runId }, { conn, workerId, gpu: gpu?.lease, log }, signals);
      } finally {
        signals.dispose();
        await gpu?.release();
      }
    },
  );
}

/** `--preset` / `--config` name the run the way `mat coordinator` does: its run id is the config's name. */
function runIdOfConfig(a: WorkerArgs): string | undefined {
  if (a.preset === undefined && a.config === undefined) return undefined;
  if (a.preset !== undefined && a.config !== undefined)
    throw new Error('give --preset or --config, not both');
  return resolveConfig({ preset: a.preset, config: a.config, 'log-format': 'text' }).config.name;
}

/**
 * SIGTERM / SIGINT for the whole life of `mat worker`: before the worker joined a run, exit at once (after
 * `release`); once it trains, `leave` (finish the step, checkpoint with the others, hand the slot back); a
 * second SIGINT while leaving aborts.
 */
class WorkerSignals {
  beforeJoin: (signal: NodeJS.Signals) => void = () => {};
  release: () => Promise<void> | undefined = () => undefined;
  leave: (() => void) | undefined;
  private leaving = false;
  private readonly handler = (signal: NodeJS.Signals) => this.on(signal);

  constructor() {
    process.on('SIGTERM', this.handler);
    process.on('SIGINT', this.handler);
  }

  private on(signal: NodeJS.Signals): void {
    if (!this.leave) {
      this.beforeJoin(signal);
      void Promise.resolve(this.release()).finally(() => process.exit(0));
    } else if (!this.leaving) {
      this.leaving = true;
      this.leave();
    } else if (signal === 'SIGINT') {
      process.exit(130);
    }
  }

  dispose(): void {
    process.removeListener('SIGTERM', this.handler);
    process.removeListener('SIGINT', this.handler);
  }
}

/** The worker's leases and timeouts from its flags (range-checked before: numeric-flags.ts). */
export function workerTimings(
  a: Pick<WorkerArgs, 'lease-ms' | 'join-timeout' | 'leave-grace'>,
): Pick<WorkerOptions, 'leaseMs' | 'joinTimeoutMs' | 'leaveGraceMs'> {
  return {
    leaseMs: a['lease-ms'],
    joinTimeoutMs: a['join-timeout'] * 1000,
    leaveGraceMs: a['leave-grace'] * 1000,
  };
}

/** Joins the run, trains until it ends or a signal asks this worker to leave. */
async function trainAsWorker(
  a: WorkerArgs,
  ctx: Pick<WorkerOptions, 'conn' | 'workerId' | 'gpu'> & { log: ReturnType<typeof lineLogger> },
  signals: WorkerSignals,
): Promise<void> {
  const { log } = ctx;
  const worker = await RedisWorker.join({
    ...ctx,
    ...workerTimings(a),
    runId: a.run,
    queuePrefix: a['queue-prefix'],
  });
  signals.leave = () => {
    log('stopping: finishing the step, checkpointing with the other peers, then leaving');
    worker.leave();
  };
  const outcome = await worker.run();
  log(`done: ${outcome}`);
  if (outcome === 'failed') process.exitCode = 1;
}
