import type { RunConfig } from '../config/schema';
import { RunDirectory } from './run-directory';

export interface OpenRunOptions {
  /** Continue the run in the directory from its newest complete checkpoint. */
  resume?: boolean;
  /** A new run replaces the files of a run already in the directory (instead of an error). */
  overwrite?: boolean;
  /** Where warnings go (a skipped incomplete checkpoint). */
  warn?: (message: string) => void;
}

/**
 * Opens the run directory of `mat train` (either runtime) before anything is trained:
 *   - a new run: the directory must not hold another run's files (they would mix: another config, its
 *     checkpoints, its metrics), unless `overwrite`; config.json is written;
 *   - a resumed run: the newest complete checkpoint (../train/checkpoint.ts, checkpointToResume), and
 *     metrics.jsonl cut back to the steps that checkpoint holds, since the steps after it are taken again.
 * Returns the directory and the checkpoint to resume from (undefined: start from step 0).
 */
export function openRunDirectory(
  config: RunConfig,
  opts: OpenRunOptions = {},
): { dir: RunDirectory; checkpoint?: { step: number; dir: string } } {
  const dir = RunDirectory.of(config);
  const warn = opts.warn ?? (() => {});
  if (!opts.resume) {
    dir.prepareNew({
      overwrite: opts.overwrite,
      howToContinue:
        `continue it with --resume ${dir.path}, choose another --name, ` +
        'or pass --overwrite to delete its files and start anew',
    });
    dir.writeConfig(config);
    return { dir };
  }
  const checkpoint = dir.checkpointToResume(warn);
  if (!checkpoint) dir.writeConfig(config);
  dir.keepMetricsUpTo(checkpoint?.step ?? 0, (line) =>
    warn(`${dir.metricsFile}: dropped a line that is not JSON (${line.slice(0, 60)}…)`),
  );
  return { dir, checkpoint };
}
