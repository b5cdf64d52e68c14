import type { RunConfig } from '@mat/core';

/**
 * What `mat coordinator` says about where a lost worker sends every peer back to, from the run's checkpoint
 * schedule (core's RunSchedule: every train.checkpointEvery steps, at each epoch evaluation, at the end).
 * Undefined when --checkpoint-every bounds it (nothing to warn about).
 */
export function rollbackNote(config: Pick<RunConfig, 'train' | 'eval'>): string | undefined {
  if (config.train.checkpointEvery > 0) return undefined;
  const epochCheckpoints = config.eval.everyEpoch && config.train.epochs > 1;
  return epochCheckpoints
    ? 'note: --checkpoint-every is 0, so checkpoints come only at epoch ends: a lost worker rolls every peer ' +
        'back to the last epoch checkpoint (up to one epoch of steps redone); --checkpoint-every K bounds it to K steps'
    : 'note: --checkpoint-every is 0 and no epoch evaluation comes before the end, so a lost worker rolls every ' +
        'peer back to the start; --checkpoint-every K bounds it to K steps';
}
