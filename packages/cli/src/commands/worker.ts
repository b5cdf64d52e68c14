import type { Argv } from 'yargs';
import { RedisWorker } from '@mat/worker';
import { describeRedis } from '@mat/exchange';
import { lineLogger, redisConnection, redisOptions, type RedisArgs } from './redis-options';

interface WorkerArgs extends RedisArgs {
  run?: string;
  gpu?: number;
  'lease-ms': number;
  'join-timeout': number;
  'log-format': 'text' | 'json';
}

/**
 * mat worker [--run ID] [--gpu N] [--redis-url …]
 *
 * Joins a run started by `mat coordinator`, claims a free peer slot (or waits as a hot spare) and trains
 * that peer, exchanging with the other workers through Redis. SIGTERM/SIGINT: finish the step, checkpoint
 * with the other peers, hand the slot back, exit.
 */
export function workerCommand(yargs: Argv): Argv {
  return yargs.command<WorkerArgs>(
    'worker',
    'Train one peer of a distributed run (claims a slot from the coordinator; extra workers are spares)',
    (y) =>
      redisOptions(
        y.usage(
          '$0 worker [options]\n\nExamples:\n  mat worker                                   # the one active run on local Redis\n  mat worker --run quick --gpu 1 --redis-url redis://gpu-box:6379',
        ),
      )
        .option('run', { type: 'string', describe: 'Run id (default: the one active run)' })
        .option('gpu', {
          type: 'number',
          describe: 'GPU index for the tensorflow backend (sets CUDA_VISIBLE_DEVICES)',
        })
        .option('lease-ms', {
          type: 'number',
          default: 10000,
          describe: 'Slot lease: a worker silent this long is replaced',
        })
        .option('join-timeout', { type: 'number', default: 60, describe: 'Seconds to wait for the run' })
        .option('log-format', { choices: ['text', 'json'] as const, default: 'text' as const }),
    async (a) => {
      if (a.gpu !== undefined) {
        if (!Number.isInteger(a.gpu) || a.gpu < 0)
          throw new Error(`--gpu must be a GPU index (got ${a.gpu})`);
        process.env.CUDA_VISIBLE_DEVICES = String(a.gpu);
      }
      if (!(a['lease-ms'] >= 300)) throw new Error('--lease-ms must be at least 300');
      const conn = redisConnection(a);
      const log = lineLogger(a['log-format'], 'worker');
      log(`connecting to ${describeRedis(conn)}`);
      const worker = await RedisWorker.join({
        conn,
        runId: a.run,
        queuePrefix: a['queue-prefix'],
        leaseMs: a['lease-ms'],
        joinTimeoutMs: a['join-timeout'] * 1000,
        log,
      });
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
    },
  );
}
