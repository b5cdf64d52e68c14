import {
  compactMetricsLines,
  RunDirectory,
  StepAggregator,
  type EvalEvent,
  type MetricsLine,
  type RunSchedule,
} from '@mat/core';
import {
  ContractError,
  decodeMetricsRow,
  SkipCounter,
  type MetricsEntry,
  type RunStore,
} from '@mat/exchange';
import { RunProgress, type ProgressLog } from './run-progress';
import { RunTimeline, streamIdTime } from './run-timeline';

export type { MetricsLine } from '@mat/core';

/** What the coordinator knows of the run to turn per-peer entries into whole-step lines. */
export interface RunShape {
  peers: number;
  schedule: RunSchedule;
}

/** Stream entries read per XRANGE call. */
const READ_BATCH = 1000;

/**
 * runDir/metrics.jsonl of a distributed run, kept current while it runs (as `mat train` appends to it):
 * the coordinator reads the run's metrics stream from the last entry it saw (poll(), once per tick) and
 * appends a `step` line once every peer has reported that step, and an `eval` line once every peer's
 * evaluation is in. A rollback makes a new generation re-take steps: they are appended again, and readers
 * (mat report) let the last line of a step win. finish() rewrites the file clean at the end: one line per
 * step and per evaluation, in step order.
 */
export class LiveMetrics {
  private readonly dir: RunDirectory;
  private readonly lines: StepAggregator;
  private cursor = '0-0';
  /** The newest generation seen; entries written without one belong to it. */
  private generation = 0;
  /** Generation -> the step all its peers started from (the stream's `generation` events). */
  private readonly resumedFrom = new Map<number, number>();
  private finished = false;
  private readonly skips: SkipCounter;
  /** The run's time and history, from every entry of the stream (kept when Redis loses the stream). */
  readonly timeline: RunTimeline;
  /** Progress lines of what poll() completes (not of the lines read again by open()). */
  readonly progress: RunProgress;

  constructor(
    readonly store: RunStore,
    runDir: string,
    private readonly shape: RunShape,
    private readonly log: ProgressLog = () => {},
    opts: { progressEveryMs?: number } = {},
  ) {
    this.dir = new RunDirectory(runDir);
    this.lines = new StepAggregator(shape.schedule, shape.peers);
    this.skips = new SkipCounter((message) => this.log(`metrics stream: ${message}`));
    this.timeline = new RunTimeline(shape.schedule.lastStep);
    this.progress = new RunProgress(log, opts.progressEveryMs);
  }

  /** Steps whose evaluation line (not the final one), of every peer, is in metrics.jsonl. */
  evaluatedSteps(): Set<number> {
    const done = this.readFile().filter(
      (l) => l.type === 'eval' && !l.final && l.peers.length === this.shape.peers,
    );
    return new Set(done.map((l) => l.step));
  }

  get file(): string {
    return this.dir.metricsFile;
  }

  /**
   * Starts keeping the file. A new run (`fresh`) starts it empty, with the stream entries to come. Else
   * what the file holds is kept, the whole stream is read again (a restarted coordinator misses nothing
   * that happened while none was running) and the file is rewritten clean — which also drops a partial
   * last line left by a coordinator killed while appending.
   */
  async open(opts: { fresh: boolean }): Promise<void> {
    if (opts.fresh) {
      const newest = await this.store.redis.xrevrange(this.store.keys.metrics, '+', '-', 'COUNT', 100);
      this.cursor = newest[0]?.[0] ?? '0-0';
      // The run's time starts at its `create` entry (then it waits for workers; some may have joined since).
      const entries = newest.map((row) => [row[0], this.decode(row)] as const);
      const created = entries.findIndex(([, e]) => e?.type === 'run' && e.event === 'create');
      for (const [id, entry] of entries.slice(0, created + 1).reverse())
        if (entry) this.timeline.take(entry, streamIdTime(id));
      this.dir.writeMetrics([]);
      return;
    }
    const kept = this.readFile();
    this.dir.writeMetrics(compactMetricsLines([...kept, ...(await this.read())]));
  }

  /** Appends the lines that the stream entries since the last poll complete. */
  async poll(): Promise<number> {
    if (this.finished) return 0;
    const lines = await this.read();
    if (lines.length > 0) {
      const file = this.dir.openMetrics();
      try {
        for (const line of lines) file.append(line);
      } finally {
        file.close();
      }
      for (const line of lines) this.progress.line(line);
    }
    return lines.length;
  }

  /** Redis lost the run, and its stream with it: read the new stream from its start. */
  rewind(): void {
    this.cursor = '0-0';
    this.generation = 0;
    this.resumedFrom.clear();
    this.lines.clear();
  }

  /**
   * The end of the run: the last entries, then the file rewritten clean, with `final` (the evaluation
   * jobs' results) as the final evaluation line. Nothing is appended afterwards.
   */
  async finish(final?: EvalEvent): Promise<void> {
    await this.poll();
    const lines = this.readFile();
    if (final) lines.push({ type: 'eval', ...final });
    this.dir.writeMetrics(compactMetricsLines(lines));
    this.finished = true;
    if (final) this.progress.evaluation(final);
  }

  /** The stream entries after the cursor, as the metrics lines they complete. */
  private async read(): Promise<MetricsLine[]> {
    const out: MetricsLine[] = [];
    for (;;) {
      const rows = await this.store.redis.xrange(
        this.store.keys.metrics,
        `(${this.cursor}`,
        '+',
        'COUNT',
        READ_BATCH,
      );
      for (const [id, fields] of rows) {
        this.cursor = id;
        const entry = this.decode([id, fields]);
        if (entry) this.timeline.take(entry, streamIdTime(id));
        const line = entry && this.take(entry);
        if (line) out.push(line);
      }
      if (rows.length < READ_BATCH) return out;
    }
  }

  /** One stream row through the metrics contract; one that breaks it is skipped, counted and logged (rate-limited). */
  private decode(row: [string, string[]]): MetricsEntry | undefined {
    try {
      return decodeMetricsRow(row, this.store.keys.metrics);
    } catch (err) {
      if (!(err instanceof ContractError)) throw err;
      this.skips.skip(`a metrics entry: ${err.message}`);
      return undefined;
    }
  }

  /** Adds one stream entry; returns the line it completes, if any. */
  private take(m: Record<string, unknown>): MetricsLine | undefined {
    if (m.type === 'run' && m.event === 'generation') {
      this.startGeneration(Number(m.generation) || 0, Number(m.step) || 0);
    } else if (m.type === 'step') {
      return this.takeStep(m);
    } else if (m.type === 'eval') {
      return this.takeEval(m);
    }
    return undefined;
  }

  /** Every peer restarts from step `from`: what older generations did after it is abandoned. */
  private startGeneration(generation: number, from: number): void {
    this.generation = Math.max(this.generation, generation);
    this.resumedFrom.set(generation, from);
    this.lines.dropStepsAfter(from, generation);
  }

  /** A step of an older generation that a later one re-takes (it restarted from an earlier step). */
  private abandoned(generation: number, step: number): boolean {
    for (const [g, from] of this.resumedFrom) if (g > generation && step > from) return true;
    return false;
  }

  private takeStep(m: Record<string, unknown>): MetricsLine | undefined {
    const step = Number(m.step);
    const generation = m.generation === undefined ? this.generation : Number(m.generation);
    this.generation = Math.max(this.generation, generation);
    // Late news (a worker's entry written as the rollback happened): that step is being taken again.
    if (this.abandoned(generation, step)) return undefined;
    const line = this.lines.addStep(
      {
        peer: Number(m.peer),
        step,
        lr: metricNumber(m.lr),
        loss: metricNumber(m.loss),
        base: metricNumber(m.base),
        distill: metricNumber(m.distill),
        advAccuracy: metricNumber(m.advAccuracy),
        stepSeconds: Number(m.stepSeconds) || 0,
        ...(m.exchangeSeconds !== undefined && { exchangeSeconds: metricNumber(m.exchangeSeconds) }),
        ...(m.staleness !== undefined && { staleness: Number(m.staleness) }),
      },
      generation,
    );
    return line && { type: 'step', ...line };
  }

  private takeEval(m: Record<string, unknown>): MetricsLine | undefined {
    const line = this.lines.addEval({
      peer: Number(m.peer),
      step: Number(m.step),
      final: m.final === true,
      count: Number(m.count),
      cleanAccuracy: metricNumber(m.cleanAccuracy),
      robustAccuracy: metricNumber(m.robustAccuracy),
    });
    return line && { type: 'eval', ...line };
  }

  /** The file's lines; a line that is not JSON (a write cut short) is dropped, with a note. */
  private readFile(): MetricsLine[] {
    return this.dir.readMetrics((text) =>
      this.log(`metrics.jsonl: dropped a line that is not JSON (${text.slice(0, 60)}…)`),
    );
  }
}

/** A number of a metrics entry: JSON writes NaN and ±Infinity as null, which is read back as NaN, never 0. */
function metricNumber(value: unknown): number {
  return value === null ? NaN : Number(value);
}
