import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { coordinatorCommand } from './commands/coordinator';
import { dashboardCommand } from './commands/dashboard';
import { dataCommand } from './commands/data';
import { doctorCommand } from './commands/doctor';
import { evalCommand } from './commands/eval';
import { exportCommand } from './commands/export';
import { experimentCommand } from './commands/experiment';
import { reportCommand } from './commands/report';
import { statusCommand } from './commands/status';
import { trainCommand } from './commands/train';
import { workerCommand } from './commands/worker';
import { checkNumericFlags } from './numeric-flags';

/**
 * The `mat` command.
 *
 *   mat train --preset quick            # 2-peer MAT on Fashion-MNIST, a few minutes on a CPU
 *   mat eval runs/quick                 # clean + PGD-20 accuracy of the newest checkpoint
 *   mat eval runs/quick --attacks pgd,apgd-ce,apgd-t,square --norms linf,l2,l1   # union accuracy
 *   mat export runs/quick --format pytorch   # peer 0's trained model as a PyTorch safetensors file
 *   mat report runs/quick               # report.json, report.md, report.html (plots)
 *   mat experiment study.json           # a grid of runs over seeds, one report of mean ± spread
 *   mat data fetch cifar10              # checksum-verified, resumable download
 *   mat doctor                          # backends, versions, Redis, datasets
 *   mat dashboard --port 8080           # queues (bull-board) and live run pages
 *   mat coordinator --preset quick      # a distributed run: one `mat worker` per peer (GPU/core)
 *   mat worker                          # train one peer of it (extra workers are hot spares)
 *   mat status [run]                    # runs, slots, workers, latest metrics
 */
export async function main(argv: string[] = hideBin(process.argv)): Promise<void> {
  let parser = yargs(argv)
    .scriptName('mat')
    .strict()
    .recommendCommands()
    .wrap(Math.min(120, process.stdout.columns ?? 120))
    // Before any command runs: every numeric flag is one finite number, in range where it has one.
    // (yargs passes itself as the second argument; its types declare only the first.)
    .middleware(
      ((args: Record<string, unknown>, y: { getOptions(): { number: string[] } }) =>
        checkNumericFlags(args, y.getOptions().number, argv)) as unknown as (args: unknown) => void,
      false,
    );
  for (const register of [
    trainCommand,
    evalCommand,
    exportCommand,
    experimentCommand,
    reportCommand,
    dataCommand,
    doctorCommand,
    dashboardCommand,
    coordinatorCommand,
    workerCommand,
    statusCommand,
  ])
    parser = register(parser);
  await parser
    .demandCommand(
      1,
      'name a command: train, eval, export, experiment, report, data, doctor, dashboard, coordinator, worker, status',
    )
    .fail((msg, err) => {
      if (err) throw err;
      process.stderr.write(`error: ${msg}\n(run \`mat --help\` for usage)\n`);
      process.exit(2);
    })
    .help()
    .parseAsync();
}
