import type { Argv } from 'yargs';
import { fetchDataset } from '@mat/core';

interface FetchArgs {
  name: string;
  'data-dir': string;
  mirror?: string;
}

export function dataCommand(yargs: Argv): Argv {
  return yargs.command('data', 'Manage datasets', (y) =>
    y
      .command<FetchArgs>(
        'fetch <name>',
        'Download a dataset with checksum verification (resumable)',
        (f) =>
          f
            .usage(
              '$0 data fetch <name> [--data-dir data] [--mirror URL]\n\nExamples:\n  mat data fetch fashion-mnist\n  mat data fetch cifar10 --mirror http://my-mirror.local/cifar/',
            )
            .positional('name', {
              choices: ['fashion-mnist', 'mnist', 'cifar10', 'cifar100'],
              demandOption: true,
            })
            .option('data-dir', { type: 'string', default: 'data' })
            .option('mirror', { type: 'string', describe: 'Base URL that replaces the official one' }),
        async (a) => {
          let lastPct = -1;
          const result = await fetchDataset(a.name, {
            dataDir: a['data-dir'],
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
