import type { Argv } from 'yargs';
import { Coordinator } from '@mat/coordinator';
import { describeRedis } from '@mat/exchange';
import { checkRunName, describeAttack } from '@mat/core';
import { rollbackNote } from './rollback-note';
import { resolveConfig, runConfigOptions, type TrainArgs } from './train';
import { lineLogger, redisConnection, redisOptions, type RedisArgs } from './redis-options';

type CoordinatorArgs = Omit<TrainArgs, 'runtime'> & RedisArgs & { 'run-id'?: string; 'stall-grace'?: number };

/**
 * mat coordinator --preset quick [--redis-url …]
 *
 * Creates a distributed run (the same config flags and presets as `mat train`) or resumes it — from Redis
 * if it knows the run, else from the run directory's newest checkpoint — and watches it until it ends:
 * peer slots and leases, rollbacks when a worker is lost, checkpoint commits, the final evaluation.
 * SIGTERM just detaches: the workers go on, and a restarted coordinator picks the run up. Exit code 0 when
 * the run finished or was stopped (or the coordinator detached), 1 when it failed or could not start.
 */
export function coordinatorCommand(yargs: Argv): Argv {
  return yargs.command<CoordinatorArgs>(
    'coordinator',
    'Create or resume a distributed run and coordinate its workers (see mat worker)',
    (y) =>
      redisOptions(
        runConfigOptions(
          y.usage(
            '$0 coordinator [options]\n\nExamples:\n  mat coordinator --preset quick --checkpoint-every 50\n  mat coordinator --resume runs/quick\n  mat coordinator --config my-run.json --redis-url rediss://redis.example:6380',
          ),
        ),
      )
        .option('run-id', { type: 'string', describe: 'Run id in Redis (default: the run name)' })
        .option('stop-grace', {
          type: 'number',
          default: 60,
          describe:
            'Seconds a stop (mat status --stop) may wait for every peer to reach a common step; then the run stops at its last checkpoint',
        })
        .option('stall-grace', {
          type: 'number',
          default: 600,
          describe:
            'Seconds every peer slot may be held with no peer taking a step (and at least 20 of the slowest step) before the run restarts from its last checkpoint; a second stall from it fails the run',
        })
        .option('log-format', { choices: ['text', 'json'] as const, default: 'text' as const }),
    async (a) => {
      // Installed first: in a container this process is PID 1, which has no default action for SIGTERM.
      // Until the run is registered a signal ends the process at once (a new coordinator resumes the run);
      // afterwards it detaches (the workers go on).
      let detach: (() => void) | undefined;
      const onSignal = (signal: NodeJS.Signals) => {
        if (detach) return detach();
        process.stderr.write(`[coordinator] ${signal} before the run was registered: exiting\n`);
        process.exit(0);
      };
      process.once('SIGTERM', onSignal);
      process.once('SIGINT', onSignal);
      const stopGrace = a['stop-grace'] ?? 60;
      if (!(stopGrace >= 0))
        throw new Error(`--stop-grace must be a number of seconds >= 0, not ${a['stop-grace']}`);
      // Before anything else: the id names Redis keys and BullMQ jobs (an empty one or braces are refused).
      if (a['run-id'] !== undefined) checkRunName(a['run-id'], '--run-id');
      const { config } = resolveConfig(a);
      const conn = redisConnection(a);
      const log = lineLogger(a['log-format'], 'coordinator');
      log(
        `run ${config.name}: ${config.peers} peer(s) ${config.model.arch} on ${config.data.dataset}, ` +
          describeAttack(config.attack),
      );
      const note = rollbackNote(config);
      if (note) log(note);
      log(`connecting to ${describeRedis(conn)}`);
      try {
        const coordinator = await Coordinator.start({
          conn,
          config,
          resume: a.resume !== undefined,
          overwrite: a.overwrite,
          runId: a['run-id'],
          queuePrefix: a['queue-prefix'],
          stopGraceMs: stopGrace * 1000,
          stallGraceMs: (a['stall-grace'] ?? 600) * 1000,
          log,
        });
        // scripts/run-local.sh reads this line to point its workers at the run.
        log(`coordinating run ${coordinator.runId}`);
        detach = () => {
          log('detaching: the workers go on; start the coordinator again to pick the run up');
          coordinator.detach();
        };
        try {
          const outcome = await coordinator.run();
          log(`run ${outcome.runId}: ${outcome.status} (${outcome.runDir})`);
          if (outcome.status === 'failed') {
            process.stderr.write(`error: run ${outcome.runId} failed: ${outcome.error ?? 'see its log'}\n`);
            process.exitCode = 1;
          }
        } finally {
          await coordinator.close();
        }
      } finally {
        process.removeListener('SIGTERM', onSignal);
        process.removeListener('SIGINT', onSignal);
      }
    },
  );
}
