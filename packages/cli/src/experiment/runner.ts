import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { writeJsonAtomic } from '@mat/core';
import type { PlannedRun } from './plan';
import {
  decideRunAction,
  epochCheckpointDir,
  evaluationStates,
  readRunFacts,
  readTrainedRun,
  type RunAction,
} from './run-state';
import type { EvaluationSpec, ExperimentSpec } from './spec';

/**
 * Runs a study's runs in order (`jobs` at a time), each as `mat train` (or `mat coordinator`, with Redis workers)
 * and `mat eval` child processes: a run that crashes or diverges is a result of the study, not its end, and
 * each run has all of a process's memory. Every decision comes from the files on disk (run-state.ts), so
 * the same command after an interruption continues where the study stopped.
 */

export interface RunOutcome {
  name: string;
  status: 'done' | 'failed';
  reason?: string;
}

export interface StudyRunnerOptions {
  /** The CLI as a command prefix, e.g. [process.execPath, '.../dist/bin.js']. */
  cli: string[];
  /** Extra flags of `mat train` (e.g. --runtime processes) or, with `coordinator`, of `mat coordinator`. */
  trainCommand: 'train' | 'coordinator';
  trainFlags: string[];
  env?: NodeJS.ProcessEnv;
  /** Runs trained or evaluated at the same time (default 1). */
  jobs?: number;
  log: (message: string) => void;
}

/** The CLI that runs this code, in either build layout (src/experiment or dist/experiment). */
export function defaultCli(): string[] {
  return [process.execPath, path.join(__dirname, '..', '..', 'dist', 'bin.js')];
}

/** `mat eval` flags of the spec's evaluation. */
export function evaluationFlags(e: EvaluationSpec): string[] {
  const flags = ['--attacks', e.attacks.join(',')];
  if (e.norms) flags.push('--norms', e.norms.join(','));
  if (e.eps)
    flags.push(
      '--eps',
      Object.entries(e.eps)
        .map(([norm, v]) => `${norm}=${v}`)
        .join(','),
    );
  const numbers: Array<[string, number | undefined]> = [
    ['--steps', e.steps],
    ['--apgd-steps', e.apgdSteps],
    ['--targets', e.targets],
    ['--restarts', e.restarts],
    ['--test-subset', e.testSubset],
    ['--batch-size', e.batchSize],
  ];
  for (const [flag, v] of numbers) if (v !== undefined) flags.push(flag, String(v));
  if (!e.ensemble) flags.push('--no-ensemble');
  return flags;
}

export class StudyRunner {
  private readonly children = new Set<ReturnType<typeof spawn>>();
  private stopping = false;

  constructor(
    private readonly spec: ExperimentSpec,
    private readonly dir: string,
    private readonly opts: StudyRunnerOptions,
  ) {}

  /** Ends the study after the current child has stopped (it checkpoints; the next start resumes). */
  stop(signal: NodeJS.Signals): void {
    this.stopping = true;
    for (const child of this.children) child.kill(signal);
  }

  async runAll(runs: readonly PlannedRun[]): Promise<RunOutcome[] | 'stopped'> {
    // Conflicts first: a study never starts when one of its runs' directories holds something else.
    const conflicts = runs.flatMap((run) => {
      const action = decideRunAction(readRunFacts(run.config, this.spec.evaluation));
      return action.type === 'conflict' ? [`${path.join(run.config.outDir, run.name)} ${action.reason}`] : [];
    });
    if (conflicts.length > 0)
      throw new Error(
        `the study ${this.spec.name} cannot go on:\n  ${conflicts.join('\n  ')}\n` +
          'move those directories away, or give the study another name',
      );
    // `jobs` runs at a time, taken in the plan's order (one core each for a one-thread backend and 1 peer).
    const outcomes: Array<RunOutcome | 'stopped'> = new Array(runs.length);
    let next = 0;
    const lane = async () => {
      while (next < runs.length && !this.stopping) {
        const i = next++;
        outcomes[i] = await this.runOne(runs[i], `[${i + 1}/${runs.length}] ${runs[i].name}`);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, this.opts.jobs ?? 1) }, lane));
    if (this.stopping || outcomes.includes('stopped')) return 'stopped';
    return outcomes as RunOutcome[];
  }

  private async runOne(run: PlannedRun, tag: string): Promise<RunOutcome | 'stopped'> {
    const runDir = path.join(run.config.outDir, run.name);
    // Each child gets one try per start of the study: a run that keeps ending short of its end (killed
    // from outside, out of memory) is reported, never started again and again.
    const tried = new Set<RunAction['type']>();
    for (;;) {
      const action: RunAction = decideRunAction(readRunFacts(run.config, this.spec.evaluation));
      if (this.stopping) return 'stopped';
      if (tried.has(action.type)) return this.failed(run, tag, `still to ${action.type} after one attempt`);
      tried.add(action.type);
      switch (action.type) {
        case 'done':
          this.opts.log(`${tag}: done`);
          return { name: run.name, status: 'done' };
        case 'failed':
          this.opts.log(`${tag}: failed: ${action.reason}`);
          return { name: run.name, status: 'failed', reason: action.reason };
        case 'conflict':
          throw new Error(`${runDir} ${action.reason}`);
        case 'train':
        case 'resume': {
          const configFile = path.join(this.dir, 'configs', `${run.name}.json`);
          fs.mkdirSync(path.dirname(configFile), { recursive: true });
          writeJsonAtomic(configFile, run.config);
          const args =
            action.type === 'resume'
              ? [this.opts.trainCommand, '--resume', runDir]
              : [
                  this.opts.trainCommand,
                  '--config',
                  configFile,
                  ...(action.overwrite ? ['--overwrite'] : []),
                ];
          this.opts.log(`${tag}: ${action.type === 'resume' ? 'resuming' : 'training'}`);
          const code = await this.exec([...args, ...this.opts.trainFlags], `${run.name}.train.log`);
          if (this.stopping) return 'stopped';
          if (code !== 0 && !fs.existsSync(path.join(runDir, 'summary.json')))
            return this.failed(run, tag, `mat ${this.opts.trainCommand} exited with ${code}`);
          break;
        }
        case 'evaluate': {
          // decideRunAction said the training is over, so the summary is there.
          const trained = readTrainedRun(runDir);
          if (!trained) return this.failed(run, tag, `${runDir}: no summary.json to evaluate the run by`);
          const states = evaluationStates(runDir, this.spec.evaluation, trained);
          for (const { epoch, file: out, ...e } of states) {
            if (e.state === 'current' || e.state === 'unverified') continue;
            const what = epoch === undefined ? 'the final checkpoint' : `epoch ${epoch}`;
            let checkpoint: string[] = [];
            try {
              if (epoch !== undefined)
                checkpoint = ['--checkpoint', epochCheckpointDir(runDir, epoch, trained)];
            } catch (err) {
              return this.failed(run, tag, (err as Error).message);
            }
            if (e.state === 'stale') {
              // Moved aside first: should the new evaluation fail, the report must not show the old numbers
              // for weights they are not of. The file is kept, under a name no report reads.
              const aside = path.join(path.dirname(out), `superseded-${path.basename(out)}`);
              fs.renameSync(out, aside);
              this.opts.log(
                `${tag}: ${path.basename(out)} measured other weights (sha256 ${e.recorded.slice(0, 12)}…) ` +
                  `than ${what} now on disk (${e.actual.slice(0, 12)}…): moved to ${path.basename(aside)}, ` +
                  'evaluating again',
              );
            }
            this.opts.log(`${tag}: evaluating ${what}`);
            const code = await this.exec(
              ['eval', runDir, ...checkpoint, '--out', out, ...evaluationFlags(this.spec.evaluation!)],
              `${run.name}.eval.log`,
            );
            if (this.stopping) return 'stopped';
            if (code !== 0) return this.failed(run, tag, `mat eval of ${what} exited with ${code}`);
          }
          break;
        }
      }
    }
  }

  private failed(run: PlannedRun, tag: string, reason: string): RunOutcome {
    const log = path.join(this.dir, 'logs', `${run.name}.*.log`);
    this.opts.log(`${tag}: failed: ${reason} (see ${log})`);
    return { name: run.name, status: 'failed', reason };
  }

  /** Runs the CLI with `args`, its output appended to logs/<file>; resolves with the exit code. */
  private exec(args: string[], logName: string): Promise<number> {
    const logFile = path.join(this.dir, 'logs', logName);
    fs.mkdirSync(path.dirname(logFile), { recursive: true });
    const out = fs.openSync(logFile, 'a');
    return new Promise((resolve, reject) => {
      const [cmd, ...pre] = this.opts.cli;
      const child = spawn(cmd, [...pre, ...args], {
        env: this.opts.env ?? process.env,
        stdio: ['ignore', out, out],
      });
      this.children.add(child);
      child.on('error', (e) => {
        this.children.delete(child);
        fs.closeSync(out);
        reject(new Error(`cannot start ${cmd}: ${e.message}`));
      });
      child.on('exit', (code, signal) => {
        this.children.delete(child);
        fs.closeSync(out);
        resolve(code ?? (signal ? 128 : 1));
      });
    });
  }
}
