import * as fs from 'fs';
import * as path from 'path';
import { parseRunConfig, RunDirectory, type RunConfig } from '@mat/core';
import type { RunStore } from '@mat/exchange';
import type { CoordinatorOptions } from './coordinator';

/**
 * The run's config: the one in Redis for a run Redis knows; else, for a run directory with checkpoints,
 * its config.json (a resumed run keeps its config; only how far it goes may change); else the given one.
 * A run Redis does not know may use its directory only when that is empty, holds this run (coordinator.json
 * names the run id: Redis lost the run) or is resumed on purpose; else it would mix with another run.
 */
export async function runConfigOf(
  store: RunStore,
  opts: Pick<CoordinatorOptions, 'config' | 'resume' | 'overwrite'>,
  log: (message: string) => void,
): Promise<RunConfig> {
  const given = opts.config;
  const stored = await store.readConfig();
  if (stored) return parseRunConfig(stored, `config of run ${store.runId} in Redis`);
  const dir = new RunDirectory(path.resolve(given.outDir, given.name));
  const ours = dir.readCoordinatorRecord()?.runId === store.runId;
  if (opts.overwrite || (!opts.resume && !ours)) {
    dir.prepareNew({
      overwrite: opts.overwrite,
      howToContinue:
        `continue it with mat coordinator --resume ${dir.path}, choose another --name, ` +
        'or pass --overwrite to delete its files and start anew',
    });
    return given;
  }
  const file = dir.configFile;
  if (!dir.checkpointToResume(log) || !fs.existsSync(file)) return given;
  const onDisk = parseRunConfig(dir.readConfig(), file);
  return parseRunConfig({
    ...onDisk,
    outDir: given.outDir,
    train: { ...onDisk.train, maxSteps: given.train.maxSteps ?? onDisk.train.maxSteps },
  });
}
