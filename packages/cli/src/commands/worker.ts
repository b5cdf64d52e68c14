import type { Argv } from 'yargs';
import { newWorkerId, RedisWorker, type WorkerOptions } from '@mat/worker';
import { describeRedis } from '@mat/exchange';
import { lineLogger, redisConnection, redisOptions, type RedisArgs } from './redis-options';
import { applyGpuChoice, gpuOptions, parseGpuChoice, type GpuArgs } from './worker-gpu';

interface WorkerArgs extends RedisArgs, GpuArgs {
  run?: string;
  'lease-ms': number;
  'join-timeout': number;
  'log-format': 'text' | 'json';
}

/**
 * mat worker [--run ID] [--gpu N|auto] [--redis-url …]
 *
 * Joins a run started by `mat coordinator`, claims a free peer slot (or waits as a hot spare) and trains
 * that peer, exchanging with the other workers through Redis. `--gpu auto` first leases a GPU of this
 * machine that no other worker holds (worker-gpu.ts). SIGTERM/SIGINT: finish the step, checkpoint with the
 * other peers, hand the slot back (and the GPU), exit.
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
          .option('lease-ms', {
            type: 'number',
            default: 10000,
            describe: 'Slot lease (and GPU lease with --gpu auto): a worker silent this long is replaced',
          })
          .option('join-timeout', { type: 'number', default: 60, describe: 'Seconds to wait for the run' })
          .option('log-format', { choices: ['text', 'json'] as const, default: 'text' as const }),
      ),
    async (a) => {
      const gpuChoice = parseGpuChoice(a);
      if (!(a['lease-ms'] >= 300)) throw new Error('--lease-ms must be at least 300');
      const conn = redisConnection(a);
      const log = lineLogger(a['log-format'], 'worker');
      log(`connecting to ${describeRedis(conn)}`);
      const workerId = newWorkerId();
      // Before RedisWorker.join, which loads the backend: CUDA_VISIBLE_DEVICES is read when it loads.
      const gpu = await applyGpuChoice(gpuChoice, {
        conn,
        workerId,
        leaseMs: a['lease-ms'],
        log,
      });
      // Stopped before it joined a run (waiting for one): the GPU goes back to the pool at once.
      const quit = (signal: NodeJS.Signals) => {
        log(`${signal} before joining a run: releasing the GPU and exiting`);
        void gpu!.release().finally(() => process.exit(0));
      };
      if (gpu) for (const s of ['SIGTERM', 'SIGINT'] as const) process.once(s, quit);
      try {
        await trainAsWorker(a, { conn, workerId, gpu: gpu?.lease, log }, () => {
          for (const s of ['SIGTERM', 'SIGINT'] as const) process.removeListener(s, quit);
        });
      } finally {
        await gpu?.release();
      }
    },
  );
}

/** Joins the run, trains until it ends or a signal asks this worker to leave. */
async function trainAsWorker(
  a: WorkerArgs,
  ctx: Pick<WorkerOptions, 'conn' | 'workerId' | 'gpu'> & { log: ReturnType<typeof lineLogger> },
  joined: () => void,
): Promise<void> {
  const { log } = ctx;
  const worker = await RedisWorker.join({
    ...ctx,
    runId: a.run,
    queuePrefix: a['queue-prefix'],
    leaseMs: a['lease-ms'],
    joinTimeoutMs: a['join-timeout'] * 1000,
  });
  joined();
  const leave = () => {
    log('stopping: finishing the step, checkpointing with the other peers, then leaving');
    worker.leave();
    process.once('SIGINT', () => process.exit(130));
  };
  process.once('SIGTERM', leave);
  process.once('SIGINT', leave);
  const outcome = await worker.run();
  log(`done: ${outcome}`);
  process.removeListener('SIGTERM', leave);
  process.removeListener('SIGINT', leave);
  if (outcome === 'failed') process.exitCode = 1;
}
