import type { Argv } from 'yargs';
import { Queue } from 'bullmq';
import {
  ContractError,
  decodeMetricsRow,
  connectRedis,
  encodeStopJob,
  isValidRunId,
  JOBS,
  QUEUES,
  redisOptions as ioredisOptions,
  RUNS_INDEX_KEY,
  RunStore,
} from '@mat/exchange';
import { checkRunName } from '@mat/core';
import { redisConnection, redisOptions, type RedisArgs } from './redis-options';
import { describeDivergence, statusLines } from './status-view';

interface StatusArgs extends RedisArgs {
  run?: string;
  json: boolean;
  stop: boolean;
}

/**
 * mat status [run] [--json] [--stop]
 *
 * Without a run: every run Redis knows, with its status and step. With one: its state, peer slots
 * (worker, lease, step), workers (heartbeat age, spare or not) and the latest metrics of each peer.
 * --stop asks the coordinator to stop the run at the next step all peers can reach, with a checkpoint.
 */
export function statusCommand(yargs: Argv): Argv {
  return yargs.command<StatusArgs>(
    'status [run]',
    "Show distributed runs, or one run's slots, workers and latest metrics",
    (y) =>
      redisOptions(y)
        .positional('run', { type: 'string', describe: 'Run id' })
        .option('json', { type: 'boolean', default: false, describe: 'Print JSON' })
        .option('stop', { type: 'boolean', default: false, describe: 'Stop the run (checkpoint first)' }),
    async (a) => {
      if (a.run !== undefined) checkRunName(a.run, 'the run id');
      const conn = redisConnection(a);
      const redis = await connectRedis(conn);
      const out = (text: string): void => void process.stdout.write(text + '\n');
      try {
        if (!a.run) {
          const runs = [];
          for (const id of (await redis.smembers(RUNS_INDEX_KEY)).sort()) {
            // One run whose id or state breaks its contract is listed as such; it does not hide the others.
            if (!isValidRunId(id)) {
              runs.push({ id: id.slice(0, 140), status: 'malformed', error: 'not a valid run id' });
              continue;
            }
            try {
              const s = await new RunStore(redis, id).readState();
              runs.push({
                id,
                status: s?.status ?? 'unknown',
                step: s?.step,
                lastStep: s?.lastStep,
                ...(s?.divergence && { divergence: s.divergence }),
              });
            } catch (err) {
              if (!(err instanceof ContractError)) throw err;
              runs.push({ id, status: 'malformed', error: err.message });
            }
          }
          if (a.json) return out(JSON.stringify({ runs }, null, 2));
          if (runs.length === 0) return out('no runs in Redis (start one with mat coordinator)');
          for (const r of runs) {
            if ('error' in r) {
              out(`${r.id}  malformed: ${r.error}`);
              continue;
            }
            const d = 'divergence' in r && r.divergence && `  ${describeDivergence(r.divergence)}`;
            out(`${r.id}  ${r.status}  step ${r.step ?? '?'}/${r.lastStep ?? '?'}${d || ''}`);
          }
          return;
        }
        const store = new RunStore(redis, a.run);
        const state = await store.readState();
        if (!state) throw new Error(`run "${a.run}" is not in Redis (mat status lists the runs)`);
        if (a.stop) {
          const queue = new Queue(QUEUES.control, {
            connection: ioredisOptions(conn),
            prefix: a['queue-prefix'],
          });
          queue.on('error', (err) => process.stderr.write(`control queue: ${err.message}\n`));
          await queue.add(JOBS.stop, encodeStopJob({ runId: a.run }), { removeOnComplete: 100 });
          await queue.close();
          out(`asked run ${a.run} to stop (the coordinator checkpoints every peer at a common step)`);
          return;
        }
        const [slots, workers, rows] = await Promise.all([
          store.readSlots(),
          store.readWorkers(),
          redis.xrevrange(store.keys.metrics, '+', '-', 'COUNT', 200),
        ]);
        const latest = new Map<number, Record<string, unknown>>();
        let skipped = 0;
        for (const row of rows) {
          let m;
          try {
            m = decodeMetricsRow(row, store.keys.metrics);
          } catch (err) {
            if (!(err instanceof ContractError)) throw err;
            skipped++;
            continue;
          }
          if (m.type === 'step' && !latest.has(m.peer)) latest.set(m.peer, m);
        }
        if (skipped > 0) process.stderr.write(`warning: skipped ${skipped} malformed metrics entries\n`);
        const now = Date.now();
        if (a.json) {
          return out(
            JSON.stringify(
              {
                id: a.run,
                state,
                slots: Object.fromEntries(slots),
                workers,
                latest: Object.fromEntries(latest),
              },
              null,
              2,
            ),
          );
        }
        for (const line of statusLines({ id: a.run, state, slots, workers, latest, now })) out(line);
      } finally {
        redis.disconnect();
      }
    },
  );
}

/**
 * The head of `mat status RUN`: status, step, checkpoint, and what is pending — a pause or stop, and a
 * divergence a worker reported that the coordinator has not acted on yet (the run still shows `running`
 * until it fails or rolls back).
 */
