import type { Argv } from 'yargs';
import { DATASET_NAMES, fetchDataset } from '@mat/core';
import { resolveConfig } from './train';

interface FetchArgs {
  name?: string;
  preset?: string;
  config?: string;
  'data-dir'?: string;
  mirror?: string;
}

/** The dataset named, or the one of a run config (`--preset` / `--config`, as `mat train` reads them). */
function whatToFetch(a: FetchArgs): { name: string; dataDir: string } {
  const fromConfig = a.preset !== undefined || a.config !== undefined;
  if (a.name !== undefined && fromConfig)
    throw new Error('name a dataset or give --preset/--config, not both');
  if (a.preset !== undefined && a.config !== undefined)
    throw new Error('give --preset or --config, not both');
  if (!fromConfig) {
    if (a.name === undefined)
      throw new Error(`name a dataset (${DATASET_NAMES.join(', ')}) or give --preset/--config`);
    return { name: a.name, dataDir: a['data-dir'] ?? 'data' };
  }
  const { config } = resolveConfig({ preset: a.preset, config: a.config, 'log-format': 'text' });
  return { name: config.data.dataset, dataDir: a['data-dir'] ?? config.data.dataDir };
}

export function dataCommand(yargs: Argv): Argv {
  return yargs.command('data', 'Manage datasets', (y) =>
    y
      .command<FetchArgs>(
        'fetch [name]',
        'Download a dataset with checksum verification (resumable)',
        (f) =>
          f
            .usage(
              '$0 data fetch <name | --preset P | --config F> [--data-dir data] [--mirror URL|DIR]\n\nExamples:\n  mat data fetch fashion-mnist\n  mat data fetch cifar10 --mirror http://my-mirror.local/cifar/\n  mat data fetch --preset quick --mirror /usr/share/datasets/fashion-mnist   # the dataset of a preset',
            )
            .positional('name', { type: 'string', choices: DATASET_NAMES })
            .option('preset', { type: 'string', describe: "Fetch this preset's dataset" })
            .option('config', { type: 'string', describe: "Fetch this run config file's dataset" })
            .option('data-dir', {
              type: 'string',
              describe: "Where to put it (default data, or the config's)",
            })
            .option('mirror', {
              type: 'string',
              describe: 'Base URL, or local directory, that replaces the official URLs',
            }),
        async (a) => {
          let lastPct = -1;
          const { name, dataDir } = whatToFetch(a);
          const result = await fetchDataset(name, {
            dataDir,
            mirror: a.mirror,
            onProgress: (p: { file: string; received: number; total?: number }) => {
              const pct = p.total ? Math.floor((100 * p.received) / p.total) : -1;
              if (pct !== lastPct && pct % 10 === 0) {
                lastPct = pct;
                process.stdout.write(`${p.file}: ${pct}%\n`);
              }
            },
          });
          process.stdout.write(JSON.stringify(result, null, 2) + '\n');
        },
      )
      .demandCommand(1, 'name a data subcommand: fetch'),
  );
}
