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
import { formatMetric } from '../format-metric';
import { redisConnection, redisOptions, type RedisArgs } from './redis-options';

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
              runs.push({ id, status: s?.status ?? 'unknown', step: s?.step, lastStep: s?.lastStep });
            } catch (err) {
              if (!(err instanceof ContractError)) throw err;
              runs.push({ id, status: 'malformed', error: err.message });
            }
          }
          if (a.json) return out(JSON.stringify({ runs }, null, 2));
          if (runs.length === 0) return out('no runs in Redis (start one with mat coordinator)');
          for (const r of runs)
            out(
              'error' in r
                ? `${r.id}  malformed: ${r.error}`
                : `${r.id}  ${r.status}  step ${r.step ?? '?'}/${r.lastStep ?? '?'}`,
            );
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
        out(
          `run ${a.run}: ${state.status}, step ${state.step}/${state.lastStep}, generation ${state.generation}`,
        );
        out(`  checkpoint: step ${state.checkpointStep} in ${state.runDir}`);
        if (state.pauseAt !== undefined)
          out(`  pausing at step ${state.pauseAt}${state.stopRequested ? ' (stop)' : ''}`);
        if (state.error) out(`  error: ${state.error}`);
        for (let peer = 0; peer < state.peers; peer++) {
          const s = slots.get(peer);
          const m = latest.get(peer);
          const lease = s
            ? `${s.workerId}, lease ${((s.leaseUntil - now) / 1000).toFixed(1)} s, step ${s.step}`
            : 'free';
          const metrics = m
            ? ` | loss ${formatMetric(m.loss, 3)} adv ${formatMetric(m.advAccuracy, 1, 100)}% ` +
              `${formatMetric(m.stepSeconds, 2)} s/step (exchange ${formatMetric(m.exchangeSeconds, 3)} s)`
            : '';
          out(`  peer ${peer}: ${lease}${metrics}`);
        }
        for (const w of workers) {
          const age = w.lastHeartbeat ? `${((now - w.lastHeartbeat) / 1000).toFixed(1)} s ago` : 'never';
          out(
            `  worker ${w.workerId} (${w.host} pid ${w.pid}, ${w.backend}${w.gpu === undefined ? '' : `, CUDA_VISIBLE_DEVICES=${w.gpu}`}): ${w.peer === null ? 'spare' : `peer ${w.peer}`}, ${w.status}, heartbeat ${age}`,
          );
        }
      } finally {
        redis.disconnect();
      }
    },
  );
}
