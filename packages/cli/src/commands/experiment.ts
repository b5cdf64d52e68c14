import * as fs from 'fs';
import * as path from 'path';
import type { Argv } from 'yargs';
import { writeFileAtomic, writeJsonAtomic } from '@mat/core';
import {
  buildStudyReport,
  decideRunAction,
  defaultCli,
  planStudy,
  readExperimentSpec,
  readRunFacts,
  runValues,
  studyDir,
  studyHtml,
  studyMarkdown,
  StudyRunner,
  studyRows,
  type PlannedRun,
  type RunOutcome,
} from '../experiment';
import { loadRunData } from '../report/run-data';
import { lineLogger, redisOptions, type RedisArgs } from './redis-options';

interface ExperimentArgs extends Partial<RedisArgs> {
  spec: string;
  'dry-run'?: boolean;
  'report-only'?: boolean;
  jobs: number;
  only?: string[];
  set?: string[];
  'log-format': 'text' | 'json';
}

const USAGE = `$0 experiment <spec.json> [options]

Runs a study: every configuration × grid point × seed of the spec, each run trained as \`mat train\`
(or \`mat coordinator\` with Redis workers when --redis-url is given) and evaluated as \`mat eval\`, then
one report of mean ± spread over seeds: <outDir>/<name>/study.{md,html,json}. The same command after an
interruption continues where the study stopped. See docs/experiments.md for the spec.`;

export function experimentCommand(yargs: Argv): Argv {
  return yargs.command<ExperimentArgs>(
    'experiment <spec>',
    'Run a study (a grid of runs over seeds) and write its report',
    (y) =>
      redisOptions(
        y
          .usage(USAGE)
          .positional('spec', { type: 'string', demandOption: true, describe: 'Experiment spec (JSON)' })
          .option('dry-run', { type: 'boolean', describe: 'Print the runs of the study and what each needs' })
          .option('report-only', { type: 'boolean', describe: 'Write the report from the runs done so far' })
          .option('jobs', {
            type: 'number',
            default: 1,
            describe: 'Runs at a time (e.g. 2 one-peer runs on 2 cores with the native backend)',
          })
          .option('only', {
            type: 'array',
            string: true,
            describe:
              'Train/evaluate only the runs whose names match (* wildcard), e.g. --only "*-s1": a batch',
          })
          .option('set', {
            type: 'array',
            string: true,
            describe:
              'Override a key of the spec: --set base.train.epochs=1 --set seeds=[1] --set outDir=/tmp/smoke',
          })
          .option('log-format', { choices: ['text', 'json'] as const, default: 'text' as const }),
      ),
    async (a) => {
      process.exitCode = await runExperiment(a);
    },
  );
}

/** Returns the exit code: 0 when every run is done, 1 when some failed, 130 when stopped. */
export async function runExperiment(a: ExperimentArgs): Promise<number> {
  const log = lineLogger(a['log-format'], 'experiment');
  const spec = readExperimentSpec(a.spec, a.set ?? []);
  const plan = planStudy(spec, path.basename(a.spec));
  if (!Number.isInteger(a.jobs) || a.jobs < 1 || a.jobs > 64)
    throw new Error(`--jobs must be an integer from 1 to 64, got ${a.jobs}`);
  const dir = studyDir(spec);
  log(
    `study ${spec.name}: ${plan.length} run(s) (${spec.configurations.length} configuration(s) × ` +
      `${plan.length / spec.configurations.length / spec.seeds.length} grid point(s) × ${spec.seeds.length} seed(s)) in ${dir}`,
  );
  if (a['dry-run']) {
    for (const run of plan) {
      const next = decideRunAction(readRunFacts(run.config, spec.evaluation));
      log(`  ${run.name}: ${run.config.peers} peer(s), seed ${run.seed}: ${next.type}`);
    }
    return 0;
  }
  fs.mkdirSync(dir, { recursive: true });
  writeJsonAtomic(path.join(dir, 'spec.json'), spec);

  let outcomes: RunOutcome[] = [];
  if (!a['report-only']) {
    const redis = a['redis-url'] !== undefined;
    const runner = new StudyRunner(spec, dir, {
      cli: defaultCli(),
      trainCommand: redis ? 'coordinator' : 'train',
      trainFlags: redis ? redisFlags(a) : ['--runtime', spec.runtime],
      jobs: a.jobs,
      log,
    });
    const stop = (signal: NodeJS.Signals) => {
      log(`${signal}: stopping after the current run's checkpoint; the same command continues the study`);
      runner.stop(signal);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    try {
      const result = await runner.runAll(selectRuns(plan, a.only));
      if (result === 'stopped') return 130;
      outcomes = result;
    } finally {
      process.removeListener('SIGINT', stop);
      process.removeListener('SIGTERM', stop);
    }
  }
  writeStudyReport(dir, spec, plan, outcomes);
  log(`report: ${path.join(dir, 'study.md')}, study.html, study.json`);
  const failed = outcomes.filter((o) => o.status === 'failed');
  if (failed.length > 0) log(`${failed.length} run(s) failed: ${failed.map((o) => o.name).join(', ')}`);
  return failed.length > 0 ? 1 : 0;
}

/** The runs named by --only patterns (`*` matches any characters); all runs without it. */
export function selectRuns(plan: readonly PlannedRun[], only: readonly string[] | undefined): PlannedRun[] {
  if (!only || only.length === 0) return [...plan];
  const patterns = only.map(
    (p) =>
      new RegExp(
        `^${p
          .split('*')
          .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
          .join('.*')}$`,
      ),
  );
  const chosen = plan.filter((run) => patterns.some((re) => re.test(run.name)));
  if (chosen.length === 0)
    throw new Error(
      `--only ${only.join(' ')} matches none of the runs: ${plan.map((r) => r.name).join(', ')}`,
    );
  return chosen;
}

/** The Redis flags given, passed on to `mat coordinator` (the password by environment or file only). */
function redisFlags(a: ExperimentArgs): string[] {
  const flags: string[] = [];
  if (a['redis-url']) flags.push('--redis-url', a['redis-url']);
  if (a['redis-password-file']) flags.push('--redis-password-file', a['redis-password-file']);
  if (a['redis-tls']) flags.push('--redis-tls');
  if (a['redis-ca']) flags.push('--redis-ca', a['redis-ca']);
  if (a['queue-prefix']) flags.push('--queue-prefix', a['queue-prefix']);
  return flags;
}

function writeStudyReport(
  dir: string,
  spec: Parameters<typeof buildStudyReport>[0],
  plan: readonly PlannedRun[],
  outcomes: readonly RunOutcome[],
): void {
  // Per run: its evaluated epochs, then its end (the rows come in that order).
  const values = plan.flatMap((run) => {
    const runDir = path.join(run.config.outDir, run.name);
    const reason = outcomes.find((o) => o.name === run.name)?.reason;
    const data = fs.existsSync(path.join(runDir, 'config.json')) ? loadRunData(runDir) : undefined;
    return [...(spec.evaluation?.epochs ?? []), undefined].map((epoch) =>
      runValues(run, data, reason, epoch),
    );
  });
  const report = buildStudyReport(spec, studyRows(plan, values), values);
  writeJsonAtomic(path.join(dir, 'study.json'), report);
  writeFileAtomic(path.join(dir, 'study.md'), studyMarkdown(report));
  writeFileAtomic(path.join(dir, 'study.html'), studyHtml(report));
}
