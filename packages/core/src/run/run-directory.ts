import * as fs from 'fs';
import * as path from 'path';
import { ConfigError, type RunConfig } from '../config/schema';
import { checkpointToResume } from '../train/checkpoint';
import { writeFileAtomic, writeJsonAtomic } from './atomic-write';
import {
  compactMetricsLines,
  RunFailedError,
  type EvalEvent,
  runSummary,
  type MetricsLine,
  type RunSummary,
} from './run-records';
import {
  imagesTrained,
  NO_HISTORY,
  NO_TIME,
  parseRunSummary,
  runSummarySchema,
  type EarlierSessions,
  type RunHistory,
  type RunTiming,
} from './run-summary';

/** What the coordinator of a distributed run keeps in its run directory (coordinator.json). */
export interface CoordinatorRecord {
  /** The run id in Redis that this directory belongs to. */
  runId: string;
  /** The newest generation this directory saw, so a fresh Redis never reuses one. */
  generation: number;
}

/** The files a run writes into its directory (what --overwrite removes, and nothing else). */
const RUN_FILES = ['config.json', 'metrics.jsonl', 'summary.json', 'coordinator.json', 'checkpoints'];
const RUN_FILE_PATTERNS = [/^eval-step\d+-.*\.json$/, /^report\.(json|md|html)$/];

/**
 * A run's directory, `<outDir>/<name>/`, and the one place that reads and writes its files:
 *
 *   config.json       the resolved config (written when the run starts)
 *   metrics.jsonl     one line per step and per evaluation, appended as the run goes
 *   summary.json      written at the end of the run (also of a run stopped early)
 *   coordinator.json  distributed runs: the run id and the newest generation
 *   checkpoints/      see ../train/checkpoint.ts
 *
 * Every file but metrics.jsonl is written atomically (./atomic-write.ts); metrics.jsonl is appended line by
 * line and rewritten atomically when it is cleaned up.
 */
export class RunDirectory {
  constructor(readonly path: string) {}

  /** The directory of a run config: `<outDir>/<name>`. */
  static of(config: Pick<RunConfig, 'outDir' | 'name'>): RunDirectory {
    return new RunDirectory(path.join(config.outDir, config.name));
  }

  get configFile(): string {
    return path.join(this.path, 'config.json');
  }

  get metricsFile(): string {
    return path.join(this.path, 'metrics.jsonl');
  }

  get summaryFile(): string {
    return path.join(this.path, 'summary.json');
  }

  get coordinatorFile(): string {
    return path.join(this.path, 'coordinator.json');
  }

  get checkpointsDir(): string {
    return path.join(this.path, 'checkpoints');
  }

  /** The run files present in the directory (empty: no run has written here). */
  runFiles(): string[] {
    if (!fs.existsSync(this.path)) return [];
    return fs
      .readdirSync(this.path)
      .filter((f) => RUN_FILES.includes(f) || RUN_FILE_PATTERNS.some((p) => p.test(f)))
      .sort();
  }

  /**
   * Makes the directory ready for a new run: it must not hold another run's files, unless `overwrite`,
   * which removes them (only them: other files in the directory stay). `how` names the ways out in the
   * error, e.g. "continue it with --resume <dir>, choose another --name, or pass --overwrite".
   */
  prepareNew(opts: { overwrite?: boolean; howToContinue: string }): void {
    const present = this.runFiles();
    if (present.length > 0) {
      if (!opts.overwrite) {
        throw new RunExistsError(
          `${this.path} already holds a run (${present.join(', ')}): ${opts.howToContinue}`,
        );
      }
      for (const f of present) fs.rmSync(path.join(this.path, f), { recursive: true, force: true });
    }
    fs.mkdirSync(this.path, { recursive: true });
  }

  writeConfig(config: RunConfig): void {
    fs.mkdirSync(this.path, { recursive: true });
    writeJsonAtomic(this.configFile, config);
  }

  /** config.json as parsed JSON (validate it with parseRunConfig); errors name the file. */
  readConfig(): unknown {
    return readJson(this.configFile);
  }

  /** summary.json, checked against its schema first: a writer never leaves a file its readers refuse. */
  writeSummary(summary: RunSummary): void {
    const checked = runSummarySchema.safeParse(summary);
    if (!checked.success) {
      const problems = checked.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
      throw new Error(`${this.summaryFile}: not written, the summary is malformed (${problems.join('; ')})`);
    }
    writeJsonAtomic(this.summaryFile, checked.data);
  }

  /**
   * The end of a session of an embedded runtime (in-process, one process per peer): summary.json from what
   * it did, written; a failed run (`error`) throws RunFailedError carrying the summary.
   */
  finishSession(o: {
    metadata: Record<string, unknown>;
    stepsDone: number;
    totalSteps: number;
    timing: RunTiming;
    history: RunHistory;
    earlier: EarlierSessions;
    config: Pick<RunConfig, 'peers'> & { train: Pick<RunConfig['train'], 'batchSize'> };
    final?: EvalEvent;
    error?: string;
  }): RunSummary {
    const summary = runSummary({
      metadata: o.metadata,
      runDir: this.path,
      stepsDone: o.stepsDone,
      totalSteps: o.totalSteps,
      timing: o.timing,
      history: o.history,
      images: imagesTrained(
        { stepsDone: o.stepsDone, countedFrom: o.earlier.countedFrom, stepsRedone: o.history.stepsRedone },
        o.config.train.batchSize,
        o.config.peers,
      ),
      final: o.final,
      error: o.error,
    });
    this.writeSummary(summary);
    if (o.error !== undefined) throw new RunFailedError(o.error, summary);
    return summary;
  }

  /** summary.json through its contract; undefined when there is none. */
  readSummary(): RunSummary | undefined {
    if (!fs.existsSync(this.summaryFile)) return undefined;
    return parseRunSummary(readJson(this.summaryFile), this.summaryFile);
  }

  /**
   * What the sessions before this one did, for a run resumed at `resumedAt` (0: a new run): the time and
   * history of the summary.json they left, when it is theirs (it ends where this session resumes).
   */
  earlierSessions(resumedAt: number): EarlierSessions {
    if (resumedAt === 0) return { timing: NO_TIME, history: NO_HISTORY, countedFrom: 0 };
    let previous: RunSummary | undefined;
    try {
      previous = this.readSummary();
    } catch {
      previous = undefined;
    }
    if (previous?.timing && previous.history && previous.stepsDone === resumedAt)
      return { timing: previous.timing, history: previous.history, countedFrom: 0 };
    return { timing: NO_TIME, history: NO_HISTORY, countedFrom: resumedAt };
  }

  readCoordinatorRecord(): CoordinatorRecord | undefined {
    if (!fs.existsSync(this.coordinatorFile)) return undefined;
    const raw = readJson(this.coordinatorFile) as Partial<CoordinatorRecord> | null;
    return {
      runId: typeof raw?.runId === 'string' ? raw.runId : '',
      generation: Number(raw?.generation) || 0,
    };
  }

  writeCoordinatorRecord(record: CoordinatorRecord): void {
    fs.mkdirSync(this.path, { recursive: true });
    writeJsonAtomic(this.coordinatorFile, record);
  }

  /** Opens metrics.jsonl for appending lines. */
  openMetrics(): MetricsAppender {
    fs.mkdirSync(this.path, { recursive: true });
    return new MetricsAppender(this.metricsFile);
  }

  /** The lines of metrics.jsonl; a line that is not JSON (a write cut short) is dropped and passed to `onBad`. */
  readMetrics(onBad: (text: string) => void = () => {}): MetricsLine[] {
    if (!fs.existsSync(this.metricsFile)) return [];
    const out: MetricsLine[] = [];
    for (const text of fs.readFileSync(this.metricsFile, 'utf8').split('\n')) {
      if (text.trim() === '') continue;
      try {
        out.push(JSON.parse(text) as MetricsLine);
      } catch {
        onBad(text);
      }
    }
    return out;
  }

  /** Replaces metrics.jsonl with `lines`, atomically. */
  writeMetrics(lines: readonly MetricsLine[]): void {
    fs.mkdirSync(this.path, { recursive: true });
    writeFileAtomic(this.metricsFile, lines.map((l) => JSON.stringify(l) + '\n').join(''));
  }

  /**
   * A run resumed after `step` steps: metrics.jsonl keeps what happened up to there, one line per step and
   * per evaluation; the lines of steps after it (taken after the checkpoint, before the run was stopped
   * or killed) are dropped, since the resumed run takes those steps again.
   */
  keepMetricsUpTo(step: number, onBad?: (text: string) => void): void {
    if (!fs.existsSync(this.metricsFile)) return;
    this.writeMetrics(compactMetricsLines(this.readMetrics(onBad).filter((l) => l.step <= step)));
  }

  /**
   * The newest complete checkpoint to resume from, or undefined when the run has none. Incomplete ones
   * (no manifest.json) are skipped with a warning, or are an error when no complete one exists: the run
   * would silently start again from step 0 (../train/checkpoint.ts, checkpointToResume).
   */
  checkpointToResume(warn: (message: string) => void): { step: number; dir: string } | undefined {
    return checkpointToResume(this.path, warn);
  }
}

/** Appends metrics lines; each line is written whole with one write call. */
export class MetricsAppender {
  private fd: number | undefined;

  constructor(readonly file: string) {
    this.fd = fs.openSync(file, 'a');
  }

  append(line: MetricsLine): void {
    if (this.fd === undefined) throw new Error(`${this.file}: appended to after close`);
    fs.writeSync(this.fd, JSON.stringify(line) + '\n');
  }

  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }
}

/** A new run would mix its files with those of a run already in its directory. */
export class RunExistsError extends ConfigError {
  override name = 'RunExistsError';
}

function readJson(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`${file} is not valid JSON: ${(err as Error).message}`);
  }
}
